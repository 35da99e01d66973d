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
    EXPORTERS,
    SCOPES,
    check_budgets,
    check_eval_file,
    check_eval_spec,
    check_exclude,
    check_fraction,
    check_input_shape,
    check_structure,
    check_task_options,
    drop_budgets,
    parse_max_drop,
)
from secateurs.errors import UsageError
from secateurs.exporters.common.opsets import DEFAULT_OPSET, check_opset

SWEEP_AMOUNTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
SENSITIVITY_AMOUNTS = (0.25, 0.5, 0.75, 0.9)


@dataclass(frozen=True)
class TuningConfig:
    """What both tuning commands share: the model, the data, the layers and the budget.

    ``max_accuracy_drop`` is an absolute accuracy drop (0.01 = one point, needs labels);
    ``min_agreement`` the lowest top-1 agreement with the dense model; ``max_drop`` the
    largest drop of named metrics, ((metric, drop), ...) or "METRIC=VALUE" strings as
    ``--max-drop`` takes them (detectors: precision, recall, mAP50, mAP50-95). All are
    fractions in [0, 1] and need ``eval``. ``task`` and ``box_format`` are `run`'s: what the
    data is (None: from the data) and the detector output layout (None: from its shape).
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
    max_drop: tuple = ()
    task: str | None = None
    box_format: str | None = None
    seed: int = 0
    threads: int | None = None  # torch and onnxruntime threads; None: the usable CPUs (secateurs.cpus)
    structure: str = "unstructured"  # or "channels": remove whole Conv2d output channels, as `run`
    round_to: int | None = None  # --structure channels: keep channel counts multiples of this

    def __post_init__(self) -> None:
        if not self.amounts:
            raise UsageError("--amounts needs at least one amount")
        amounts = tuple(sorted({check_fraction("--amounts", a) for a in self.amounts}))
        object.__setattr__(self, "amounts", amounts)
        if any(isinstance(item, str) for item in self.max_drop or ()):
            object.__setattr__(self, "max_drop", parse_max_drop(self.max_drop))
        object.__setattr__(self, "max_drop", tuple(tuple(pair) for pair in self.max_drop or ()))
        check_budgets(self.eval, self.max_accuracy_drop, self.min_agreement)
        check_input_shape(self.input_shape)
        if self.threads is not None:
            cpus.check(self.threads)
        check_exclude(self.exclude)
        object.__setattr__(self, "round_to", check_structure(self.structure, self.round_to))
        if self.eval is not None:
            check_eval_spec(self.eval)
            check_eval_file(self.eval)  # loaded at once: no later stage to defer this to
        check_task_options(self)

    def budget_options(self) -> list[str]:
        """The budget options given, as written on the command line."""
        given = [] if self.max_accuracy_drop is None else [f"--max-accuracy-drop {self.max_accuracy_drop:g}"]
        given += [f"--max-drop {metric}={value:g}" for metric, value in self.max_drop]
        return given + ([] if self.min_agreement is None else [f"--min-agreement {self.min_agreement:g}"])

    @property
    def budgets(self) -> tuple[tuple[str, float], ...]:
        """(metric, largest allowed drop) per budget (``config.drop_budgets``)."""
        return drop_budgets(self)

    @property
    def has_budget(self) -> bool:
        return bool(self.budgets)


@dataclass(frozen=True)
class SweepConfig(TuningConfig):
    """`sweep`: every amount pruned uniformly; sizes from the real exporters.

    Without ``eval`` the sweep is a size curve (sparsity and artifact bytes only).
    """

    scope: str = "layer"
    exporter: str = "auto"
    opset: int = DEFAULT_OPSET
    latency_runs: int = 30  # timed onnxruntime runs of each amount's model.onnx and the dense original

    def __post_init__(self) -> None:
        super().__post_init__()
        if (
            isinstance(self.latency_runs, bool)
            or not isinstance(self.latency_runs, int)
            or self.latency_runs < 0
        ):
            raise UsageError(f"--latency-runs must be an integer >= 0, got {self.latency_runs!r}")
        if self.scope not in SCOPES:
            raise UsageError(f"--scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")
        if self.exporter not in EXPORTERS:
            raise UsageError(f"--exporter must be one of {', '.join(EXPORTERS)}, got {self.exporter!r}")
        check_opset(self.opset, self.exporter)


@dataclass(frozen=True)
class SensitivityConfig(TuningConfig):
    """`sensitivity`: each Conv2d pruned alone at each amount; with a budget, a recipe.

    The drop is that of the one budget given: the accuracy drop (``max_accuracy_drop``), a
    metric's drop (``max_drop``: mAP50 on a detector), or 1 - top-1 agreement
    (``min_agreement``). Without a budget the data decides: a classifier's accuracy drop with
    labels, else 1 - top-1 agreement; a detector's mAP50 drop (label-free: 1 - the pruned
    model's mAP50 against the dense model's detections). Giving two budgets is refused, as
    one recipe is searched against one measure.
    """

    amounts: tuple[float, ...] = SENSITIVITY_AMOUNTS

    def __post_init__(self) -> None:
        if not self.eval:
            raise UsageError("sensitivity needs --eval DATA: the drop is measured on it")
        super().__post_init__()
        if 0.0 in self.amounts:
            raise UsageError("--amounts must be in (0, 1] for sensitivity: amount 0 prunes nothing")
        if len(self.budgets) > 1:
            raise UsageError(
                f"give one budget for the recipe, not {' and '.join(self.budget_options())}:"
                " one recipe is searched against one measure"
            )

    @property
    def metric(self) -> str | None:
        """The budget's metric ("accuracy", "agreement", or a --max-drop metric); None lets
        the data decide."""
        return self.budgets[0][0] if self.budgets else None

    @property
    def budget(self) -> float | None:
        """The recipe's budget as a drop in the chosen metric."""
        return self.budgets[0][1] if self.budgets else None
