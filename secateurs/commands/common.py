"""What the pipeline commands (run, prune, export, validate, report) share: building a
RunConfig from their options, printing progress, and the closing summary and verdict."""

from __future__ import annotations

import os
from pathlib import Path

import click

from secateurs.commands import verdict
from secateurs.commands.options import default_out, formats_tuple, one_exclude
from secateurs.config import ALL_STAGES, RunConfig, parse_max_drop
from secateurs.errors import UsageError

directory_argument = click.argument("directory", type=click.Path(path_type=Path, file_okay=False))


def config_from(opts: dict, stages: tuple[str, ...] = ALL_STAGES, **fixed) -> RunConfig:
    """A RunConfig from click options; unset flags (None) keep the RunConfig default.
    Checked for ``stages`` (RunConfig.preflight) before the command loads anything."""
    from secateurs import files
    from secateurs.settings_file import from_file

    ctx = click.get_current_context()
    opts = {**opts, **fixed, "settings_file": ctx.obj.get("settings")}
    opts["settings_from_file"] = from_file(ctx, opts)
    opts["formats"] = formats_tuple(opts.get("formats"))
    opts["exclude"] = one_exclude(opts.get("exclude"))
    opts["out"] = opts.get("out") or default_out(opts["model"])
    opts["max_drop"] = parse_max_drop(opts.get("max_drop")) or None
    if opts.get("structure") != "channels" and not _given(ctx, "round_to"):
        opts["round_to"] = None  # a settings file's or [defaults]' round-to rounds channel runs only
    cfg = RunConfig(**{k: v for k, v in opts.items() if v is not None})
    cfg.preflight(stages)  # files and formats too, before the command imports torch or loads the model
    cfg = _check_inputs(ctx, cfg, stages)
    files.check_out_dir(cfg.out)
    _refuse_an_amount_the_recipe_overrides(ctx, cfg)
    return cfg


def _check_inputs(ctx: click.Context, cfg: RunConfig, stages: tuple[str, ...]) -> RunConfig:
    """The model spec names something loadable, and a recipe fits --structure (torch-free). A
    channel recipe cuts what `sensitivity` measured: its --round-to unless one is given on the
    command line (a settings file's is a default, which the recipe's measurement overrides)."""
    from secateurs.model.factory import check_model_spec
    from secateurs.model.recipe import run_as_measured

    if "load" in stages:
        check_model_spec(cfg.model)
    if "prune" not in stages:
        return cfg
    return run_as_measured(cfg, _given(ctx, "round_to"))


def _given(ctx: click.Context, name: str) -> bool:
    """The option was given on the command line (or its environment variable, or as a batch
    job's own key), not defaulted by click, a settings file or a jobs file's [defaults]."""
    source = ctx.get_parameter_source(name) if name in ctx.params else None
    if source is click.core.ParameterSource.DEFAULT_MAP:
        return name in ((ctx.obj or {}).get("given") or ())
    return source in (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)


def _refuse_an_amount_the_recipe_overrides(ctx: click.Context, cfg: RunConfig) -> None:
    """A recipe's ``default`` sets every layer it does not list, so a given --amount would
    change nothing: refuse it rather than ignore it."""
    source = ctx.get_parameter_source("amount") if "amount" in ctx.params else None
    if cfg.recipe is None or source in (None, click.core.ParameterSource.DEFAULT):
        return
    from secateurs.model.recipe import read_recipe  # torch-free

    _, default = read_recipe(cfg.recipe)
    if default is not None:
        where = (
            "--amount"
            if source is click.core.ParameterSource.COMMANDLINE
            else f"amount in {cfg.settings_file}"
        )
        raise UsageError(
            f"{where} {cfg.amount} would change nothing: {cfg.recipe} sets default {default:g} for the"
            " layers it does not list; drop it, or remove the recipe's default"
        )


def progress_printer(quiet: bool):
    """The pipeline's progress callback: ``secateurs: ...`` lines on stderr (progress.Progress)."""
    from secateurs.progress import Progress

    return Progress(quiet).line


def color_stdout() -> bool:
    """Colour PASS/FAIL only when stdout is a terminal, never in a file or a CI log, and not
    when NO_COLOR is set to anything non-empty (https://no-color.org)."""
    return not os.environ.get("NO_COLOR") and click.get_text_stream("stdout").isatty()


def finish(ctx_obj, data: dict, quiet: bool) -> None:
    """After a command succeeded: the summary table (unless --quiet), then the verdict line."""
    from secateurs import report

    if not quiet:
        click.echo(report.render_terminal(data, ctx_obj.timings, color_stdout(), ctx_obj.latency))
    verdict.removed(ctx_obj.removed)
    command = click.get_current_context().info_name
    click.echo(verdict.success_line(command, ctx_obj.config.out, data))


def execute_concluded(cfg: RunConfig, stages: list[str], junit: Path | None, quiet: bool, **kwargs):
    """``execute_reported``; when validation or an accuracy gate fails (exit 1 or 6), first
    print the failing checks and gates with their numbers, and the verdict."""
    from secateurs.commands.ci_outputs import execute_reported
    from secateurs.errors import GateFailed, SecateursError, ValidationFailed
    from secateurs.pipeline.runner import failed_dir
    from secateurs.report.stored import read_report

    try:
        return execute_reported(cfg, stages, junit, **kwargs)
    except (ValidationFailed, GateFailed):
        failed = failed_dir(cfg.out)
        try:
            data = read_report(failed)
        except SecateursError:  # the error line still says what failed
            data = None
        if data is not None:
            verdict.failure(data, failed, cfg.out, quiet)
        raise
