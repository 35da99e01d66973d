"""What loading and pruning found out, as plain data: the model's facts and each layer's cut."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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
