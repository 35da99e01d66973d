"""`prune`: the load and prune stages, writing pruned.safetensors for the later stages."""

from __future__ import annotations

import click

from secateurs.commands import verdict
from secateurs.commands.common import config_from, finish, progress_printer
from secateurs.commands.options import model_options, out_option, prune_options, quiet_option


@click.command()
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

    verdict.start_clock()
    cfg = config_from(opts, formats="safetensors")
    ctx, data = execute(cfg, ["load", "prune", "save"], progress=progress_printer(quiet))
    finish(ctx, data, quiet)
