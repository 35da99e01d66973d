"""The settings of `sweep` and `sensitivity`: one frozen object each, checked on construction.

The commands build them from the same option groups as `run` (model, weights, input
shape, exclude, eval, budget), so a flag means one thing everywhere; the library
functions (``tuning.sweep.run_sweep``, ``tuning.sensitivity.run_sensitivity``) take them.
Every check here runs before the model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from secateurs import cpus
from secateurs.config import (
    EVAL_RANDOM,
    EXPORTERS,
    SCOPES,
    check_budgets,
    check_eval_file,
    check_eval_spec,
    check_exclude,
    check_fraction,
    check_input_shape,
    guess_task,
)
from secateurs.errors import UsageError
from secateurs.exporters.common.opsets import DEFAULT_OPSET, check_opset

SWEEP_AMOUNTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
SENSITIVITY_AMOUNTS = (0.25, 0.5, 0.75, 0.9)


@dataclass(frozen=True)
class TuningConfig:
    """What both tuning commands share: the model, the data, the layers and the budget.

    ``max_accuracy_drop`` is an absolute accuracy drop (0.01 = one point, needs labels);
    ``min_agreement`` the lowest top-1 agreement with the dense model. Both are fractions
    in [0, 1]; either needs ``eval``.
    """

    model: str
    out: Path
    eval: str | None = None
    weights: Path | None = None
    input_shape: tuple[int, ...] | None = None
    trust_model_code: bool = False
    exclude: str | None = None
    amounts: tuple[float, ...] = SWEEP_AMOUNTS
    max_accuracy_drop: float | None = None
    min_agreement: float | None = None
    seed: int = 0
    threads: int | None = None  # torch and onnxruntime threads; None: the usable CPUs (secateurs.cpus)

    def __post_init__(self) -> None:
        if not self.amounts:
            raise UsageError("--amounts needs at least one amount")
        amounts = tuple(sorted({check_fraction("--amounts", a) for a in self.amounts}))
        object.__setattr__(self, "amounts", amounts)
        check_budgets(self.eval, self.max_accuracy_drop, self.min_agreement)
        check_input_shape(self.input_shape)
        if self.threads is not None:
            cpus.check(self.threads)
        check_exclude(self.exclude)
        if self.eval is not None:
            check_eval_spec(self.eval)
            check_eval_file(self.eval)  # loaded at once: no later stage to defer this to
            if guess_task(self.eval) != "classify" and not EVAL_RANDOM.match(self.eval):
                raise UsageError(
                    f"--eval {self.eval}: sweep and sensitivity judge classifiers (builtin:digits, random:N,"
                    " a .npz); detection metrics are judged by `secateurs run --eval DATA --max-drop` only so far"
                )

    def budget_options(self) -> list[tuple[str, float]]:
        """The budget options given, as (flag, value)."""
        given = (("--max-accuracy-drop", self.max_accuracy_drop), ("--min-agreement", self.min_agreement))
        return [(name, value) for name, value in given if value is not None]

    @property
    def has_budget(self) -> bool:
        return bool(self.budget_options())


@dataclass(frozen=True)
class SweepConfig(TuningConfig):
    """`sweep`: every amount pruned uniformly; sizes from the real exporters.

    Without ``eval`` the sweep is a size curve (sparsity and artifact bytes only).
    """

    scope: str = "layer"
    exporter: str = "auto"
    opset: int = DEFAULT_OPSET

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.scope not in SCOPES:
            raise UsageError(f"--scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")
        if self.exporter not in EXPORTERS:
            raise UsageError(f"--exporter must be one of {', '.join(EXPORTERS)}, got {self.exporter!r}")
        check_opset(self.opset, self.exporter)


@dataclass(frozen=True)
class SensitivityConfig(TuningConfig):
    """`sensitivity`: each Conv2d pruned alone at each amount; with a budget, a recipe.

    The drop is the accuracy drop (labelled data, or ``max_accuracy_drop`` given), else
    1 - top-1 agreement (``min_agreement`` given, or no labels). The recipe's budget is
    that drop: ``max_accuracy_drop``, or ``1 - min_agreement``; giving both is refused,
    as one recipe is searched against one measure.
    """

    amounts: tuple[float, ...] = SENSITIVITY_AMOUNTS

    def __post_init__(self) -> None:
        if not self.eval:
            raise UsageError("sensitivity needs --eval DATA: the drop is measured on it")
        super().__post_init__()
        if 0.0 in self.amounts:
            raise UsageError("--amounts must be in (0, 1] for sensitivity: amount 0 prunes nothing")
        if len(self.budget_options()) > 1:
            raise UsageError("give one budget for the recipe: --max-accuracy-drop or --min-agreement")

    @property
    def metric(self) -> str | None:
        """'accuracy' or 'agreement' when a budget names it; None lets the data decide."""
        if self.max_accuracy_drop is not None:
            return "accuracy"
        return "agreement" if self.min_agreement is not None else None

    @property
    def budget(self) -> float | None:
        """The recipe's budget as a drop in the chosen metric."""
        if self.max_accuracy_drop is not None:
            return self.max_accuracy_drop
        return None if self.min_agreement is None else 1.0 - self.min_agreement
