"""What `sweep` and `sensitivity` share: run a tuning function into a staged --out."""

from __future__ import annotations

from secateurs import files
from secateurs.progress import Progress


def run_tuning(cfg, function, quiet: bool) -> dict:
    """``function(cfg, stage, progress)`` writes into a staging directory that replaces
    ``cfg.out`` only when it returns: a failure leaves a previous output as it was."""
    files.check_out_dir(cfg.out)
    with files.staged(cfg.out) as stage:
        return function(cfg, stage, Progress(quiet))
