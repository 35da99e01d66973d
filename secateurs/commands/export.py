"""`export`: the export stage on a directory that `prune` (or `run`) wrote."""

from __future__ import annotations

import click

from secateurs.commands import verdict
from secateurs.commands.common import directory_argument, finish, progress_printer
from secateurs.commands.options import export_options, formats_tuple, quiet_option, threads_option
from secateurs.config import DEFAULT_FORMATS


@click.command()
@directory_argument
@lambda f: export_options(f, defaults=False)
@quiet_option
@threads_option
@click.pass_context
def export(ctx, directory, quiet, formats, **opts):
    """Stage: export the pruned model in DIRECTORY (from `secateurs prune`) to ONNX and friends.

    \b
    Example:
      secateurs export work/ --formats onnx,spz
    """
    from secateurs.pipeline.runner import execute, resumed_config
    from secateurs.settings_file import recorded

    verdict.start_clock()
    formats = formats_tuple(formats) or tuple(f for f in DEFAULT_FORMATS if f != "safetensors")
    cfg = recorded(resumed_config(directory, formats=formats, **opts), ctx, [*opts, "formats"])
    done, data = execute(cfg, ["export"], resume=directory, progress=progress_printer(quiet))
    finish(done, data, quiet)
