"""`secateurs sensitivity`: per-layer drop at several amounts, and a recipe within a budget."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

import click

from secateurs.commands.options import (
    AmountList,
    eval_options,
    exclude_option,
    model_options,
    quiet_option,
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
    eval_help="Required: builtin:digits, random:N or a .npz to measure each layer's drop on.",
    drop_help="Write recipe.json: per-layer amounts whose combined accuracy drop, measured, is at most"
    " this (0.01 = 1 point; needs labels).",
    agreement_help="Write recipe.json: per-layer amounts whose top-1 agreement with the dense model,"
    " measured, is at least this.",
)
@click.option("--budget", type=float, hidden=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Output directory [default: artifacts/<model>-sensitivity].",
)
@threads_option
@quiet_option
def sensitivity(quiet, budget, **opts):
    """Prune one Conv2d layer at a time at each amount and measure the drop on --eval DATA.

    The drop is the accuracy drop with labelled data (or with --max-accuracy-drop), else
    1 - top-1 agreement with the dense model (or with --min-agreement). Writes
    sensitivity.json, a heat-map sensitivity.png and report.html; with a budget also
    recipe.json (per-layer amounts whose combined drop was measured within the budget)
    and compares it with the largest uniform amount within the same budget.

    \b
    Examples:
      secateurs sensitivity builtin:resnet --eval builtin:digits
      secateurs sensitivity builtin:resnet --eval builtin:digits --max-accuracy-drop 0.01
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
