"""The `secateurs` command line: `run` for the whole pipeline, one command per stage.

Only the CLI (this module and secateurs/commands/) reads click; it builds a RunConfig
and hands it to the runner.
Errors print one line on stderr and exit with the code documented in the README.
"""

from __future__ import annotations

import signal
import sys
import traceback
from pathlib import Path

import click

from secateurs import __version__
from secateurs.commands.ci_outputs import execute_reported, junit_option
from secateurs.commands.options import (
    default_out,
    eval_options,
    export_options,
    formats_tuple,
    model_options,
    out_option,
    prune_options,
    quiet_option,
    validate_options,
)
from secateurs.config import DEFAULT_FORMATS, RunConfig
from secateurs.errors import EXIT_CODES, EXIT_USAGE, SecateursError, UsageError

EXIT_CODE_HELP = "\b\nExit codes:\n" + "\n".join(
    f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items()
)


class SecateursGroup(click.Group):
    """Turns SecateursError into one stderr line and its exit code; --debug adds the traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SecateursError as e:
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            click.echo(f"secateurs: error: {e}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("secateurs: interrupted; no outputs were promoted", err=True)
            ctx.exit(130)
        except ModuleNotFoundError as e:
            missing = (e.name or "").split(".")[0]
            if missing not in EXPORT_EXTRA_MODULES:
                raise
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            command = ctx.invoked_subcommand or "this command"
            click.echo(
                f"secateurs: error: `secateurs {command}` needs {missing}, which is not installed;"
                " install the export extra: pip install 'secateurs[export]'"
                " (verify, unpack and inspect work without it)",
                err=True,
            )
            ctx.exit(EXIT_USAGE)


# Imported only by commands that load, prune or export a model (pyproject's [export] extra).
EXPORT_EXTRA_MODULES = {"torch", "onnxscript", "scipy", "safetensors", "sklearn", "matplotlib"}


def _sigterm(signum, frame):
    raise KeyboardInterrupt


@click.group(cls=SecateursGroup, epilog=EXIT_CODE_HELP)
@click.version_option(__version__, prog_name="secateurs")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Settings: a secateurs.toml, or a pyproject.toml with [tool.secateurs]. Flags override it."
    " [default: the nearest one from here up to the repository root]",
)
@click.option("--no-config", is_flag=True, help="Read no settings file.")
@click.pass_context
def main(ctx, debug, config_file, no_config):
    """Prune a PyTorch CNN's Conv2d weights, export small sparse artifacts, and prove they match.

    \b
    Examples:
      secateurs run builtin:resnet --amount 0.3 --out artifacts/demo
      secateurs run torchvision.models:resnet18 --input-shape 1,3,224,224 --weights r18.safetensors
      secateurs prune builtin:lenet --amount 0.5 --out work && secateurs export work \\
        && secateurs validate work && secateurs report work
    """
    from secateurs.settings_file import use

    ctx.obj = {"debug": debug}
    signal.signal(signal.SIGTERM, _sigterm)
    ctx.obj["settings"] = use(ctx, config_file, no_config)


def config_from(opts: dict, **fixed) -> RunConfig:
    """A RunConfig from click options; unset flags (None) keep the RunConfig default."""
    from secateurs.settings_file import from_file

    ctx = click.get_current_context()
    opts = {**opts, **fixed, "settings_file": ctx.obj.get("settings")}
    opts["settings_from_file"] = from_file(ctx, opts)
    opts["formats"] = formats_tuple(opts.get("formats"))
    opts["out"] = opts.get("out") or default_out(opts["model"])
    return RunConfig(**{k: v for k, v in opts.items() if v is not None})


def choose_amount(cfg: RunConfig, quiet: bool) -> tuple[RunConfig, tuple[str, ...]]:
    """--auto: bisect on the PyTorch model, then the normal run re-checks the gate on model.onnx."""
    from dataclasses import replace

    from secateurs.tuning.sweep import auto_amount_for

    source = click.get_current_context().get_parameter_source("amount")
    if source is click.core.ParameterSource.DEFAULT_MAP:
        raise UsageError(f"--auto chooses the amount itself; remove amount from {cfg.settings_file}")
    if source is not click.core.ParameterSource.DEFAULT:
        raise UsageError("--auto chooses the amount itself; drop --amount")
    if cfg.max_accuracy_drop is None and cfg.min_agreement is None:
        raise UsageError("--auto needs a budget: --max-accuracy-drop and/or --min-agreement")
    amount, probes = auto_amount_for(cfg)
    note = f"--auto chose amount {amount}: largest within the budget, {len(probes)} probes, resolution 0.01"
    _progress(quiet)(note)
    return replace(cfg, amount=amount), (note,)


def _progress(quiet: bool):
    return (lambda _m: None) if quiet else (lambda m: click.echo(f"secateurs: {m}", err=True))


def _finish(ctx_obj, data: dict, quiet: bool) -> None:
    from secateurs import report

    if not quiet:
        click.echo(report.render_terminal(data, ctx_obj.timings))
    click.echo(f"secateurs: wrote {ctx_obj.config.out}", err=True)


@main.command(epilog=EXIT_CODE_HELP)
@model_options
@prune_options
@export_options
@validate_options
@eval_options
@out_option
@quiet_option
@junit_option
@click.option(
    "--auto",
    is_flag=True,
    help="Choose --amount: the largest uniform amount within --max-accuracy-drop/--min-agreement"
    " on --eval DATA (bisection, resolution 0.01), then run at it.",
)
def run(quiet, auto, junit, **opts):
    """Run every stage on MODEL: load, prune, export, validate, report.

    MODEL is builtin:NAME, package.module:factory, or a model file (.pt2; TorchScript or
    a pickled nn.Module with --trust-model-code). Artifacts are staged and moved into
    --out only when every check passes; on a failed validation they go to <out>.failed/
    and a previous <out> is left untouched.

    \b
    Examples:
      secateurs run builtin:resnet --amount 0.3 --out artifacts/demo
      secateurs run builtin:lenet --amount 0.5 --scope global --exporter torchscript
      secateurs run mypkg.models:make_net --weights net.pt --input-shape 1,3,64,64 --exclude '^stem'
      secateurs run exported.pt2 --dynamic-hw
    """
    from secateurs.pipeline.runner import run_stages

    cfg = config_from(opts)
    notes = ()
    if auto:
        cfg, notes = choose_amount(cfg, quiet)
    ctx, data = execute_reported(cfg, run_stages(cfg), junit, progress=_progress(quiet), notes=notes)
    _finish(ctx, data, quiet)


@main.command(epilog=EXIT_CODE_HELP)
@model_options
@prune_options
@out_option
@quiet_option
def prune(quiet, **opts):
    """Stage: load MODEL, prune it, and write pruned.safetensors + report.json to --out.

    \b
    Example:
      secateurs prune builtin:resnet --amount 0.5 --out work/
    """
    from secateurs.pipeline.runner import execute

    cfg = config_from(opts, formats="safetensors")
    ctx, data = execute(cfg, ["load", "prune", "export"], progress=_progress(quiet))
    _finish(ctx, data, quiet)


directory_argument = click.argument("directory", type=click.Path(path_type=Path, file_okay=False))


@main.command(epilog=EXIT_CODE_HELP)
@directory_argument
@lambda f: export_options(f, defaults=False)
@quiet_option
@click.pass_context
def export(ctx, directory, quiet, formats, **opts):
    """Stage: export the pruned model in DIRECTORY (from `secateurs prune`) to ONNX and friends.

    \b
    Example:
      secateurs export work/ --formats onnx,spz
    """
    from secateurs.pipeline.runner import execute, resumed_config
    from secateurs.settings_file import recorded

    formats = formats_tuple(formats) or tuple(f for f in DEFAULT_FORMATS if f != "safetensors")
    cfg = recorded(resumed_config(directory, formats=formats, **opts), ctx, [*opts, "formats"])
    done, data = execute(cfg, ["export"], resume=directory, progress=_progress(quiet))
    _finish(done, data, quiet)


@main.command(epilog=EXIT_CODE_HELP)
@directory_argument
@lambda f: validate_options(f, defaults=False)
@quiet_option
@junit_option
@click.pass_context
def validate(ctx, directory, quiet, junit, **opts):
    """Stage: validate every artifact in DIRECTORY against the pruned PyTorch model (exit 1 on failure).

    \b
    Example:
      secateurs validate work/ --atol 1e-5
    """
    from secateurs.pipeline.runner import resumed_config
    from secateurs.settings_file import recorded

    cfg = recorded(resumed_config(directory, **opts), ctx, opts)
    done, data = execute_reported(cfg, ["validate"], junit, resume=directory, progress=_progress(quiet))
    _finish(done, data, quiet)


@main.command(epilog=EXIT_CODE_HELP)
@directory_argument
def report(directory):
    """Stage: print the summary of DIRECTORY and rewrite report.md and manifest.json.

    \b
    Example:
      secateurs report work/ >> "$GITHUB_STEP_SUMMARY"
    """
    from secateurs import report as report_stage
    from secateurs.pipeline import files
    from secateurs.pipeline.runner import REPORT_MD, read_report, read_run_record

    data = read_report(directory)
    run_block = read_run_record(directory)
    files.write_text(directory / REPORT_MD, report_stage.render_markdown(data))
    files.write_manifest(directory, run_block)
    click.echo(report_stage.render_terminal(data, run_block.get("timings_s")))


def _register_commands() -> None:
    from secateurs.commands.sensitivity import sensitivity
    from secateurs.commands.spz import inspect, pack, unpack
    from secateurs.commands.sweep import sweep
    from secateurs.commands.verify import verify

    for command in (pack, unpack, inspect, sweep, sensitivity, verify):
        command.epilog = EXIT_CODE_HELP
        main.add_command(command)


_register_commands()


if __name__ == "__main__":
    sys.exit(main())
