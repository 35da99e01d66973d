"""What `sweep` and `sensitivity` share: check the settings, run the library function into a
staged --out, print its table and the verdict line."""

from __future__ import annotations

from collections.abc import Callable

import click

from secateurs import executors, files
from secateurs.commands import verdict
from secateurs.commands.options import default_out, one_exclude
from secateurs.progress import Progress


def run_tuning(
    command: str, config_class, opts: dict, quiet: bool, library: Callable, blocks: Callable
) -> None:
    """Build ``config_class`` from ``opts`` (every check before the model loads), then call
    ``library()(cfg, stage, progress)``, which writes into a staging directory that replaces
    --out only when it returns: a failure leaves a previous output as it was. ``library``
    returns the function, so its torch imports happen after the settings are checked.
    ``--executor``/``--ray-address`` in ``opts`` choose where its probes run."""
    verdict.start_clock()
    executor_name, ray_address = opts.pop("executor", "local"), opts.pop("ray_address", None)
    opts = {**opts, "exclude": one_exclude(opts["exclude"])}
    cfg = config_class(**{**opts, "out": opts["out"] or default_out(opts["model"], f"-{command}")})
    files.check_out_dir(cfg.out)
    function = library()
    executor = executors.make(executor_name, ray_address)  # exit 2 before any work without Ray
    try:
        with files.staged(cfg.out) as stage:
            data = function(cfg, stage, Progress(quiet), executor)
    finally:
        executor.close()
    if not quiet:
        from secateurs.report import terminal

        click.echo(terminal.body(blocks(data)))
    click.echo(verdict.tuning_line(command, cfg.out, data))
