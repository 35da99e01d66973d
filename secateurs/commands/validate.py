"""`validate`: the validate stage on a directory that `export` (or `run`) wrote."""

from __future__ import annotations

import click

from secateurs.commands import verdict
from secateurs.commands.common import directory_argument, execute_concluded, finish, progress_printer
from secateurs.commands.options import junit_option, quiet_option, threads_option, validate_options


@click.command()
@directory_argument
@lambda f: validate_options(f, defaults=False)
@quiet_option
@threads_option
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

    verdict.start_clock()
    cfg = recorded(resumed_config(directory, **opts), ctx, opts)
    done, data = execute_concluded(
        cfg, ["validate"], junit, quiet, resume=directory, progress=progress_printer(quiet)
    )
    finish(done, data, quiet)
