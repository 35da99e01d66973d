"""The `secateurs` command line: `run` for the whole pipeline, one command per stage.

Only this module reads click; it builds a RunConfig and hands it to the runner.
Errors print one line on stderr and exit with the code documented in the README.
"""

from __future__ import annotations

import math
import signal
import sys
import traceback
from pathlib import Path

import click

from secateurs import __version__
from secateurs.config import (
    DEFAULT_ATOL,
    DEFAULT_FORMATS,
    DEFAULT_RTOL,
    EXPORTERS,
    SCOPES,
    RunConfig,
    parse_shape,
)
from secateurs.errors import EXIT_CODES, SecateursError, UsageError

EXIT_CODE_HELP = "\b\nExit codes:\n" + "\n".join(
    f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items()
)


class Amount(click.ParamType):
    """A float in [0, 1]; NaN, inf and out-of-range values are usage errors (exit 2)."""

    name = "FLOAT"

    def convert(self, value, param, ctx):
        try:
            amount = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number in [0, 1]", param, ctx)
        if not math.isfinite(amount) or not 0.0 <= amount <= 1.0:
            self.fail(f"{value!r} is not a number in [0, 1]", param, ctx)
        return amount


class Shape(click.ParamType):
    name = "N,C,H,W"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            return parse_shape(value)
        except SecateursError as e:
            self.fail(str(e), param, ctx)


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


def _sigterm(signum, frame):
    raise KeyboardInterrupt


@click.group(cls=SecateursGroup, epilog=EXIT_CODE_HELP)
@click.version_option(__version__, prog_name="secateurs")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def main(ctx, debug):
    """Prune a PyTorch CNN's Conv2d weights, export small sparse artifacts, and prove they match.

    \b
    Examples:
      secateurs run builtin:resnet --amount 0.3 --out artifacts/demo
      secateurs run torchvision.models:resnet18 --input-shape 1,3,224,224 --weights r18.safetensors
      secateurs prune builtin:lenet --amount 0.5 --out work && secateurs export work \\
        && secateurs validate work && secateurs report work
    """
    ctx.obj = {"debug": debug}
    signal.signal(signal.SIGTERM, _sigterm)


def quiet_option(f):
    """--quiet: no progress lines, bars or summary table."""

    def set_quiet(ctx, param, value):
        from secateurs.progress import set_quiet

        set_quiet(bool(value))
        return value

    return click.option(
        "--quiet", "-q", is_flag=True, callback=set_quiet, help="No progress lines, bars or summary table."
    )(f)


def model_options(f):
    f = click.option(
        "--weights",
        type=click.Path(path_type=Path, dir_okay=False),
        help="state_dict to load strictly (.pt/.pth with weights_only=True, or .safetensors).",
    )(f)
    f = click.option(
        "--input-shape",
        type=Shape(),
        help="Example input shape, e.g. 1,3,224,224. Required unless the model declares input_shape.",
    )(f)
    f = click.option(
        "--trust-model-code",
        is_flag=True,
        help="Allow TorchScript archives and pickled nn.Module files, which run code when loaded.",
    )(f)
    return click.argument("model")(f)


def prune_options(f):
    f = click.option(
        "--amount",
        type=Amount(),
        default=0.3,
        show_default=True,
        help="Fraction of each Conv2d weight to zero, in [0, 1].",
    )(f)
    f = click.option(
        "--scope",
        type=click.Choice(SCOPES),
        default="layer",
        show_default=True,
        help="layer: round(amount*numel) per tensor (YOLOv5); global: one threshold over all Conv2d weights.",
    )(f)
    f = click.option(
        "--allow-noop", is_flag=True, help="A model without Conv2d is exported and validated unpruned."
    )(f)
    f = click.option(
        "--recipe",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Per-layer amounts (recipe.json from `secateurs sensitivity --budget`); unlisted layers use --amount.",
    )(f)
    return click.option("--exclude", metavar="REGEX", help="Skip Conv2d modules whose name matches REGEX.")(f)


def export_options(f, defaults: bool = True):
    f = click.option(
        "--exporter",
        type=click.Choice(EXPORTERS),
        default="auto" if defaults else None,
        show_default=defaults,
        help="torch.onnx exporter. auto: dynamo (torch.export, the supported path), or torchscript"
        " for TorchScript archives; torchscript: the legacy exporter, ~3x faster.",
    )(f)
    f = click.option(
        "--dynamic-hw",
        is_flag=True,
        default=None,
        help="Also make height and width dynamic (fails, exit 4, where the model fixes them).",
    )(f)
    f = click.option(
        "--external-data",
        is_flag=True,
        default=None,
        hidden=True,
        envvar="SECATEURS_FORCE_EXTERNAL_DATA",
        help="Write tensors to model.onnx.data even below 2 GB (for testing the >2 GB path).",
    )(f)
    f = click.option(
        "--onnx-strict",
        is_flag=True,
        default=None,
        help="model.sparse.onnx: int64 indices only (what onnx.checker accepts), not the narrowest type.",
    )(f)
    return click.option(
        "--formats",
        metavar="NAMES",
        default=",".join(DEFAULT_FORMATS) if defaults else None,
        show_default=defaults,
        help="Comma-separated artifact formats: onnx, safetensors, sparse-onnx, bitmask-onnx, spz, npz.",
    )(f)


def validate_options(f, defaults: bool = True):
    f = click.option(
        "--atol",
        type=float,
        default=DEFAULT_ATOL if defaults else None,
        show_default=defaults,
        help="Absolute tolerance for ONNX vs PyTorch outputs.",
    )(f)
    return click.option(
        "--rtol",
        type=float,
        default=DEFAULT_RTOL if defaults else None,
        show_default=defaults,
        help="Relative tolerance: an element fails where |a-b| > atol + rtol*|b|.",
    )(f)


def eval_options(f):
    f = click.option(
        "--eval",
        "eval",
        metavar="DATA",
        help="Evaluate dense vs pruned (PyTorch and model.onnx) on builtin:digits, random:N or a .npz"
        " with 'inputs' (and 'labels').",
    )(f)
    f = click.option(
        "--max-accuracy-drop",
        type=float,
        help="Fail (exit 6) if top-1 accuracy drops by more than this (absolute, 0.01 = 1 point).",
    )(f)
    return click.option(
        "--min-agreement",
        type=float,
        help="Fail (exit 6) if top-1 agreement with the dense model is below this (e.g. 0.99).",
    )(f)


def out_option(f):
    return click.option(
        "--out", type=click.Path(path_type=Path), help="Output directory [default: artifacts/<model>]."
    )(f)


def default_out(model: str) -> Path:
    name = model.split(":", 1)[-1].rsplit(".", 1)[-1] if ":" in model else Path(model).stem
    return Path("artifacts") / (name or "model")


def formats_tuple(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))


def config_from(opts: dict, **fixed) -> RunConfig:
    """A RunConfig from click options; unset flags (None) keep the RunConfig default."""
    opts = {**opts, **fixed}
    opts["formats"] = formats_tuple(opts.get("formats"))
    opts["out"] = opts.get("out") or default_out(opts["model"])
    return RunConfig(**{k: v for k, v in opts.items() if v is not None})


def choose_amount(cfg: RunConfig, quiet: bool) -> RunConfig:
    """--auto: bisect on the PyTorch model, then the normal run re-checks the gate on model.onnx."""
    from dataclasses import replace

    from secateurs.tuning.sweep import auto_amount_for

    source = click.get_current_context().get_parameter_source("amount")
    if source is not click.core.ParameterSource.DEFAULT:
        raise UsageError("--auto chooses the amount itself; drop --amount")
    if cfg.max_accuracy_drop is None and cfg.min_agreement is None:
        raise UsageError("--auto needs a budget: --max-accuracy-drop and/or --min-agreement")
    amount, probes = auto_amount_for(cfg)
    _progress(quiet)(f"--auto: amount {amount} ({len(probes)} probes, resolution 0.01)")
    return replace(cfg, amount=amount)


def _progress(quiet: bool):
    return (lambda _m: None) if quiet else (lambda m: click.echo(f"secateurs: {m}", err=True))


def _finish(ctx_obj, data: dict, quiet: bool) -> None:
    from secateurs.pipeline import report

    if not quiet:
        click.echo(report.render_terminal(data))
    click.echo(f"secateurs: wrote {ctx_obj.config.out}", err=True)


@main.command(epilog=EXIT_CODE_HELP)
@model_options
@prune_options
@export_options
@validate_options
@eval_options
@out_option
@quiet_option
@click.option(
    "--auto",
    is_flag=True,
    help="Choose --amount: the largest uniform amount within --max-accuracy-drop/--min-agreement"
    " on --eval DATA (bisection, resolution 0.01), then run at it.",
)
def run(quiet, auto, **opts):
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
    from secateurs.pipeline.runner import execute, run_stages

    cfg = config_from(opts)
    if auto:
        cfg = choose_amount(cfg, quiet)
    ctx, data = execute(cfg, run_stages(cfg), progress=_progress(quiet))
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
def export(directory, quiet, formats, **opts):
    """Stage: export the pruned model in DIRECTORY (from `secateurs prune`) to ONNX and friends.

    \b
    Example:
      secateurs export work/ --formats onnx,spz
    """
    from secateurs.pipeline.runner import execute, resumed_config

    formats = formats_tuple(formats) or tuple(f for f in DEFAULT_FORMATS if f != "safetensors")
    cfg = resumed_config(directory, formats=formats, **opts)
    ctx, data = execute(cfg, ["export"], resume=directory, progress=_progress(quiet))
    _finish(ctx, data, quiet)


@main.command(epilog=EXIT_CODE_HELP)
@directory_argument
@lambda f: validate_options(f, defaults=False)
@quiet_option
def validate(directory, quiet, **opts):
    """Stage: validate every artifact in DIRECTORY against the pruned PyTorch model (exit 1 on failure).

    \b
    Example:
      secateurs validate work/ --atol 1e-5
    """
    from secateurs.pipeline.runner import execute, resumed_config

    cfg = resumed_config(directory, **opts)
    ctx, data = execute(cfg, ["validate"], resume=directory, progress=_progress(quiet))
    _finish(ctx, data, quiet)


@main.command(epilog=EXIT_CODE_HELP)
@directory_argument
def report(directory):
    """Stage: print the summary of DIRECTORY and rewrite report.md and manifest.json.

    \b
    Example:
      secateurs report work/ >> "$GITHUB_STEP_SUMMARY"
    """
    from secateurs.pipeline import files
    from secateurs.pipeline import report as report_stage
    from secateurs.pipeline.runner import REPORT_MD, read_report

    data = read_report(directory)
    files.write_text(directory / REPORT_MD, report_stage.render_markdown(data))
    files.write_manifest(directory)
    click.echo(report_stage.render_terminal(data))


def _spz_out(source: Path, out: Path | None, suffix_add: str | None) -> Path:
    if out is None:
        if suffix_add:
            out = source.with_name(source.name + suffix_add)
        elif source.name.endswith(".spz"):
            out = source.with_name(source.name[: -len(".spz")])
        else:
            raise UsageError(f"{source}: name does not end in .spz; give the output with -o")
    if out.resolve() == source.resolve():
        raise UsageError(f"{out}: output would overwrite the input")
    return out


@main.command(epilog=EXIT_CODE_HELP)
@click.argument("onnx_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="[default: ONNX_FILE.spz]"
)
@click.option("--level", type=click.IntRange(1, 22), default=3, show_default=True, help="zstd level.")
def pack(onnx_file, output, level):
    """Pack any ONNX file (and its external data) into the smallest .spz container.

    Every tensor is stored in its smallest exact encoding; `secateurs unpack` restores
    the original bytes (same sha256). Works on ONNX files from any exporter.

    \b
    Example:
      secateurs pack model.onnx -o model.onnx.spz
    """
    from secateurs import spz
    from secateurs.pipeline.tables import fmt_bytes

    output = _spz_out(onnx_file, output, ".spz")
    stats = spz.pack(onnx_file, output, level=level)
    click.echo(
        f"{output}: {fmt_bytes(stats.output_bytes)} from {fmt_bytes(stats.input_bytes)}"
        f" ({stats.ratio:.3f}), {stats.tensors} tensors, {stats.seconds:.2f} s"
    )


@main.command(epilog=EXIT_CODE_HELP)
@click.argument("spz_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="[default: SPZ_FILE without .spz]"
)
def unpack(spz_file, output):
    """Restore the exact ONNX file (and external data files beside it) from a .spz container.

    \b
    Example:
      secateurs unpack model.onnx.spz -o model.onnx && sha256sum model.onnx
    """
    from secateurs import spz

    output = _spz_out(spz_file, output, None)
    click.echo(str(spz.unpack(spz_file, output)))


@main.command(epilog=EXIT_CODE_HELP)
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def inspect(file):
    """Per tensor of an .onnx or .spz file: shape, sparsity, and the bytes each encoding takes.

    For an .onnx it shows what `pack` would choose; for an .spz, what it chose.

    \b
    Example:
      secateurs inspect artifacts/resnet/model.onnx
    """
    from secateurs import spz
    from secateurs.pipeline.tables import fmt_pct, table

    infos = spz.inspect(file)
    encodings = sorted({e for i in infos for e in i.sizes})
    rows = [
        [
            i.name + (f" [{i.file}]" if i.file else ""),
            i.dtype,
            "x".join(map(str, i.shape)),
            fmt_pct(i.sparsity),
            f"{i.nbytes:,}",
            *[f"{i.sizes[e]:,}" if e in i.sizes else "" for e in encodings],
            i.encoding,
        ]
        for i in infos
    ]
    headers = ["tensor", "dtype", "shape", "sparsity", "raw bytes", *encodings, "chosen"]
    click.echo(table(headers, rows))


def _register_commands() -> None:
    from secateurs.commands.sensitivity import sensitivity
    from secateurs.commands.sweep import sweep

    main.add_command(sweep)
    main.add_command(sensitivity)


_register_commands()


if __name__ == "__main__":
    sys.exit(main())
