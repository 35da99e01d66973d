"""`prune`: the load and prune stages, writing pruned.safetensors for the later stages."""

from __future__ import annotations

import click

from secateurs.commands import verdict
from secateurs.commands.common import config_from, finish, progress_printer
from secateurs.commands.options import (
    finetune_options,
    model_options,
    out_option,
    prune_options,
    quiet_option,
    structure_options,
    threads_option,
)


@click.command()
@model_options
@prune_options
@structure_options
@finetune_options
@out_option
@quiet_option
@threads_option
def prune(quiet, **opts):
    """Stage: load MODEL, prune it, and write pruned.safetensors + report.json to --out.

    With --structure channels it also writes model.pt2, the smaller architecture, which the
    later stages (export, validate) load.

    \b
    Example:
      secateurs prune builtin:resnet --amount 0.5 --out work/
    """
    verdict.start_clock()
    stages = (
        ["load", "prune", "finetune", "save"]
        if opts.get("finetune") or opts.get("finetune_fn")
        else ["load", "prune", "save"]
    )
    cfg = config_from(opts, tuple(stages), formats="safetensors")  # checked before torch is imported

    from secateurs.pipeline.runner import execute

    ctx, data = execute(cfg, stages, progress=progress_printer(quiet))
    finish(ctx, data, quiet)
