"""The run context: the single object every stage reads from and writes to."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from secateurs.config import RunConfig


@dataclass
class LayerRecord:
    """What the prune stage did to one Conv2d weight."""

    name: str
    param: str  # qualified parameter name, e.g. "layer1.0.conv1.weight"
    shape: list[int]
    numel: int
    dtype: str
    target: float
    pruned: int  # weights the L1 rule selected (round(amount * numel) in layer scope)
    zeros_before: int
    zeros_after: int

    @property
    def sparsity(self) -> float:
        return self.zeros_after / self.numel if self.numel else 0.0

    def to_json(self) -> dict:
        return {**asdict(self), "sparsity": self.sparsity}

    @classmethod
    def from_json(cls, data: dict) -> LayerRecord:
        return cls(**{k: v for k, v in data.items() if k != "sparsity"})


@dataclass
class ModelInfo:
    """Where the model came from and how it is called."""

    spec: str
    source: str  # "builtin", "factory", "exported-program", "torchscript", "pickled-module"
    input_shape: tuple[int, ...]
    input_names: list[str] = field(default_factory=lambda: ["input"])
    output_names: list[str] = field(default_factory=list)
    output_shapes: list[list[int]] = field(default_factory=list)
    weights: str | None = None
    exporter: str = ""  # the exporter actually used ("auto" resolved)
    fixed_batch: bool = False  # a .pt2 program exported without a dynamic batch axis
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        data = asdict(self)
        data["input_shape"] = list(self.input_shape)
        return data

    @classmethod
    def from_json(cls, data: dict) -> ModelInfo:
        return cls(**{**data, "input_shape": tuple(data["input_shape"])})


@dataclass
class Artifact:
    name: str  # exporter name, e.g. "onnx"
    path: Path
    description: str
    accepted_by: str = ""

    @property
    def files(self) -> list[Path]:
        """The file itself plus its ONNX external-data file, when it has one."""
        data = self.path.with_name(self.path.name + ".data")
        return [self.path, data] if data.exists() else [self.path]

    @property
    def size(self) -> int:
        return sum(p.stat().st_size for p in self.files)


@dataclass
class RunContext:
    config: RunConfig
    workdir: Path  # where artifacts are written (a staging directory during `run`)
    model: Any = None  # torch.nn.Module, kept untyped so importing this stays cheap
    info: ModelInfo | None = None
    layers: list[LayerRecord] = field(default_factory=list)
    param_counts: dict[str, int] = field(default_factory=dict)
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    encodings: dict[str, list] = field(default_factory=dict)  # artifact name -> [TensorEncoding]
    onnx_weights: dict[str, str] = field(default_factory=dict)  # pruned layer -> model.onnx initializer
    validation: Any = None  # secateurs.validators.results.ValidationResult
    eval_data: Any = None  # secateurs.evaluation.data.EvalData
    dense_outputs: Any = None  # the dense model's scores on eval_data, computed before pruning
    evaluation: dict | None = None  # metrics and gates (pipeline.evaluate)
    timings: dict[str, float] = field(default_factory=dict)
    _dense_onnx: tuple | None = field(default=None, repr=False)

    def dense_onnx(self):
        """model.onnx parsed once per run (exporters, validators and the ledger all read it).

        The cache is keyed by path, size and mtime, so a re-exported file is parsed again.
        Callers must not modify the returned ModelProto (the sparse encoders copy it).
        """
        import onnx

        path = self.artifacts["onnx"].path
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if self._dense_onnx is None or self._dense_onnx[0] != key:
            self._dense_onnx = (key, onnx.load(str(path)))
        return self._dense_onnx[1]

    def artifact_path(self, filename: str) -> Path:
        return self.workdir / filename

    def param_names(self) -> dict[str, str]:
        return {r.name: r.param for r in self.layers}

    def pruned_weights(self) -> dict[str, Any]:
        """Each pruned layer's weight as a numpy array in its own dtype (bfloat16 widened)."""
        import torch

        from secateurs.pipeline.conv_targets import get_param

        out = {}
        for r in self.layers:
            w = get_param(self.model, r.param).detach().cpu()
            out[r.name] = (w.float() if w.dtype == torch.bfloat16 else w).numpy()
        return out
