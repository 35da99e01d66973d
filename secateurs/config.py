"""The one frozen set of settings for a run. The CLI builds it; nothing below reads click or os.environ."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from secateurs import cpus, exporters
from secateurs.errors import UsageError
from secateurs.exporters.common.opsets import DEFAULT_OPSET, check_opset

SCOPES = ("layer", "global")
EXPORTERS = ("auto", "dynamo", "torchscript")
RUNTIME_ONLY = ("threads",)  # settings kept out of report.json and state.json (see to_json)
DEFAULT_FORMATS = exporters.names()  # every registered format, in their declared order

# ORT vs PyTorch on float32 CNN outputs differs by ~1e-6; BatchNorm folding and
# reordered reductions stay well inside these.
DEFAULT_ATOL = 1e-4
DEFAULT_RTOL = 1e-3


@dataclass(frozen=True)
class RunConfig:
    model: str
    out: Path
    weights: Path | None = None
    input_shape: tuple[int, ...] | None = None
    amount: float = 0.3
    scope: str = "layer"
    exclude: str | None = None
    exporter: str = "auto"
    formats: tuple[str, ...] = DEFAULT_FORMATS
    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL
    onnx_strict: bool = False
    trust_model_code: bool = False
    allow_noop: bool = False
    dynamic_hw: bool = False
    external_data: bool = False
    eval: str | None = None  # builtin:digits, random:N or a .npz
    max_accuracy_drop: float | None = None  # absolute, e.g. 0.01 = one point
    min_agreement: float | None = None  # top-1 agreement with the dense model
    seed: int = 0
    provider: str = "CPUExecutionProvider"  # onnxruntime execution provider for validation
    recipe: Path | None = None  # per-layer amounts (secateurs.recipe/1), layer scope only
    opset: int = DEFAULT_OPSET  # ai.onnx opset of model.onnx (and the formats derived from it)
    threads: int | None = None  # torch and onnxruntime threads; None: the usable CPUs (secateurs.cpus)
    settings_file: str | None = None  # secateurs.toml or pyproject.toml used, relative to the cwd
    settings_from_file: tuple[str, ...] = ()  # the fields above whose value came from it

    def __post_init__(self) -> None:
        check_amount(self.amount)
        check_opset(self.opset, self.exporter)
        if self.threads is not None:
            cpus.check(self.threads)
        if self.scope not in SCOPES:
            raise UsageError(f"--scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")
        if self.exporter not in EXPORTERS:
            raise UsageError(f"--exporter must be one of {', '.join(EXPORTERS)}, got {self.exporter!r}")
        for name, value in (("--atol", self.atol), ("--rtol", self.rtol)):
            if not (math.isfinite(value) and value >= 0):
                raise UsageError(f"{name} must be a finite number >= 0, got {value}")
        for name, value in (
            ("--max-accuracy-drop", self.max_accuracy_drop),
            ("--min-agreement", self.min_agreement),
        ):
            if value is not None:
                check_fraction(name, value)
                if not self.eval:
                    raise UsageError(f"{name} needs --eval DATA")
        if self.recipe is not None and self.scope != "layer":
            raise UsageError(f"--recipe gives per-layer amounts and needs --scope layer, got {self.scope}")
        if self.input_shape is not None and (not self.input_shape or any(d < 1 for d in self.input_shape)):
            raise UsageError(f"--input-shape must be positive integers, got {self.input_shape}")

    def to_json(self, with_out: bool = True) -> dict:
        """The settings as JSON (report.json, state.json), without the run-time-only ones
        (RUNTIME_ONLY): the thread count changes wall time, never a hashed byte."""
        data = {k: v for k, v in asdict(self).items() if k not in RUNTIME_ONLY}
        data["out"] = str(self.out)
        if not with_out:
            del data["out"]
        data["weights"] = str(self.weights) if self.weights else None
        data["input_shape"] = list(self.input_shape) if self.input_shape else None
        data["formats"] = list(self.formats)
        data["recipe"] = str(self.recipe) if self.recipe else None
        data["settings_from_file"] = [k for k in self.settings_from_file if k not in RUNTIME_ONLY]
        return data

    @classmethod
    def from_json(cls, data: dict, **overrides) -> RunConfig:
        data = {**data, **{k: v for k, v in overrides.items() if v is not None}}
        data["out"] = Path(data.get("out") or ".")  # reports omit it: they live in out
        data["weights"] = Path(data["weights"]) if data.get("weights") else None
        data["input_shape"] = tuple(data["input_shape"]) if data.get("input_shape") else None
        data["formats"] = tuple(data["formats"])
        data["recipe"] = Path(data["recipe"]) if data.get("recipe") else None
        data["settings_from_file"] = tuple(data.get("settings_from_file") or ())
        return cls(**data)


def check_fraction(name: str, value, error: type[Exception] = UsageError, low_open: bool = False) -> float:
    """A fraction in [0, 1] (in (0, 1] with ``low_open``) as a float; anything else (NaN, inf,
    out of range, bool, not a number) raises ``error`` naming ``name``; never clamped."""
    interval = "(0, 1]" if low_open else "[0, 1]"
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if (
        not number
        or not math.isfinite(value)
        or not (0.0 < value if low_open else 0.0 <= value)
        or value > 1.0
    ):
        raise error(f"{name} must be a finite number in {interval}, got {value!r}")
    return float(value)


def check_amount(amount: float) -> float:
    """Amount is a fraction in [0, 1]; NaN and inf are rejected, never clamped."""
    return check_fraction("--amount", amount)


def parse_shape(text: str) -> tuple[int, ...]:
    """Parse '1,3,224,224' into a shape; reject anything else rather than guess."""
    parts = text.replace(" ", "").split(",")
    if not all(p.isdigit() for p in parts) or any(int(p) < 1 for p in parts):
        raise UsageError(f"--input-shape must be positive integers like 1,3,224,224, got {text!r}")
    return tuple(int(p) for p in parts)
