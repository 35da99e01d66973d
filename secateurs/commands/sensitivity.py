"""`secateurs sensitivity`: per-layer drop at several amounts, and a recipe within a budget."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

import click

from secateurs.commands.options import (
    AmountList,
    eval_options,
    exclude_option,
    executor_options,
    model_options,
    quiet_option,
    task_options,
    threads_option,
)
from secateurs.errors import UsageError
from secateurs.tuning.config import SENSITIVITY_AMOUNTS


def refuse_budget(value: float | None) -> None:
    """The option's old name, refused with both of its replacements named."""
    if value is not None:
        raise UsageError(
            f"--budget was renamed: use --max-accuracy-drop {value} (labelled data) or"
            f" --min-agreement {1 - value:g} (top-1 agreement with the dense model), as in `run`"
        )


@click.command("sensitivity")
@model_options
@click.option(
    "--amounts",
    type=AmountList(),
    default=",".join(map(str, SENSITIVITY_AMOUNTS)),
    show_default=True,
    help="Amounts to try per layer, in (0, 1].",
)
@exclude_option
@eval_options(
    eval_help="Required: the data to measure each layer's drop on, as `run --eval` takes it (classifiers:"
    " builtin:digits, random:N, a .npz; detectors: builtin:shapes, a data.yaml, a COCO .json, a folder"
    " of images with --task detect).",
    drop_help="Write recipe.json: per-layer amounts whose combined accuracy drop, measured, is at most"
    " this (0.01 = 1 point; needs labels).",
    agreement_help="Write recipe.json: per-layer amounts whose top-1 agreement with the dense model,"
    " measured, is at least this.",
)
@task_options(
    drop_help="Write recipe.json: per-layer amounts whose combined METRIC drop, measured, is at most"
    " VALUE (0.01 = 1 point); the drop measured per layer is METRIC's. One budget only."
)
@click.option("--budget", type=float, hidden=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Output directory [default: artifacts/<model>-sensitivity].",
)
@threads_option
@executor_options
@quiet_option
def sensitivity(quiet, budget, **opts):
    """Prune one Conv2d layer at a time at each amount and measure the drop on --eval DATA.

    The drop is the budget's metric, else the data's default: a classifier's accuracy drop
    with labels, else 1 - top-1 agreement with the dense model; a detector's mAP50 drop
    (label-free: against the dense model's detections). Writes
    sensitivity.json, a heat-map sensitivity.png and report.html; with a budget also
    recipe.json (per-layer amounts whose combined drop was measured within the budget)
    and compares it with the largest uniform amount within the same budget.

    \b
    Examples:
      secateurs sensitivity builtin:resnet --eval builtin:digits
      secateurs sensitivity builtin:resnet --eval builtin:digits --max-accuracy-drop 0.01
      secateurs sensitivity builtin:detector --eval builtin:shapes --max-drop mAP50=0.01
      secateurs run builtin:resnet --recipe artifacts/resnet-sensitivity/recipe.json
    """
    from secateurs.commands.tuning import run_tuning
    from secateurs.report.tuning import sensitivity_blocks
    from secateurs.tuning.config import SensitivityConfig

    refuse_budget(budget)
    run_tuning(
        "sensitivity",
        SensitivityConfig,
        opts,
        quiet,
        lambda: import_module("secateurs.tuning.sensitivity").run_sensitivity,
        sensitivity_blocks,
    )
