"""What the pipeline commands (run, prune, export, validate, report) share: building a
RunConfig from their options, printing progress, and the closing summary."""

from __future__ import annotations

from pathlib import Path

import click

from secateurs.commands.options import default_out, formats_tuple
from secateurs.config import ALL_STAGES, RunConfig

directory_argument = click.argument("directory", type=click.Path(path_type=Path, file_okay=False))


def config_from(opts: dict, stages: tuple[str, ...] = ALL_STAGES, **fixed) -> RunConfig:
    """A RunConfig from click options; unset flags (None) keep the RunConfig default.
    Checked for ``stages`` (RunConfig.preflight) before the command loads anything."""
    from secateurs.settings_file import from_file

    ctx = click.get_current_context()
    opts = {**opts, **fixed, "settings_file": ctx.obj.get("settings")}
    opts["settings_from_file"] = from_file(ctx, opts)
    opts["formats"] = formats_tuple(opts.get("formats"))
    opts["out"] = opts.get("out") or default_out(opts["model"])
    cfg = RunConfig(**{k: v for k, v in opts.items() if v is not None})
    cfg.preflight(stages)  # files and formats too, before the command imports torch or loads the model
    return cfg


def progress_printer(quiet: bool):
    return (lambda _m: None) if quiet else (lambda m: click.echo(f"secateurs: {m}", err=True))


def finish(ctx_obj, data: dict, quiet: bool) -> None:
    from secateurs import report

    if not quiet:
        click.echo(report.render_terminal(data, ctx_obj.timings))
    click.echo(f"secateurs: wrote {ctx_obj.config.out}", err=True)
