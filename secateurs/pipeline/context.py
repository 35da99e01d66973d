"""The run context: the single object every stage reads from and writes to."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
import torch

from secateurs.config import RunConfig
from secateurs.model.conv_targets import get_param
from secateurs.model.records import LayerRecord, ModelInfo


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
    model: Any = None  # torch.nn.Module
    info: ModelInfo | None = None
    layers: list[LayerRecord] = field(default_factory=list)  # the pruned Conv2d weights
    excluded: list[LayerRecord] = field(default_factory=list)  # Conv2d layers --exclude kept whole
    recipe: dict | None = None  # the --recipe that set the layers' amounts (pipeline.prune.recipe_record)
    param_counts: dict[str, int] = field(default_factory=dict)
    channels: dict | None = None  # --structure channels: widths before/after, output layers (pipeline.prune)
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    encodings: dict[str, list] = field(default_factory=dict)  # artifact name -> [TensorEncoding]
    onnx_weights: dict[str, str] = field(default_factory=dict)  # pruned layer -> model.onnx initializer
    validation: Any = None  # secateurs.validators.results.ValidationResult
    eval_data: Any = None  # secateurs.evaluation.data.EvalData
    dense_outputs: Any = None  # the dense model's scores on eval_data, computed before pruning
    evaluation: dict | None = None  # metrics and gates (pipeline.evaluate)
    finetune: dict | None = None  # recovery fine-tuning: data, epochs, losses, metric before/after
    progress: Any = None  # secateurs.progress.Progress for stages with a bar (finetune); None: silent
    cost: dict | None = None  # parameters and MACs, pruned against the dense original (pipeline.cost)
    latency: dict | None = None  # onnxruntime latency (pipeline.cost): manifest.json's run block, not hashed
    detections: dict | None = None  # judged name -> its detections (detection evaluation), for pictures
    timings: dict[str, float] = field(default_factory=dict)
    removed: list[Path] = field(default_factory=list)  # stale outputs a successful run deleted
    threads: int | None = None  # torch's and onnxruntime's, as secateurs.threads.apply set them
    _dense_onnx: tuple | None = field(default=None, repr=False)

    def dense_onnx(self):
        """model.onnx parsed once per run (exporters, validators and the ledger all read it).

        The cache is keyed by path, size and mtime, so a re-exported file is parsed again.
        Callers must not modify the returned ModelProto (the sparse encoders copy it).
        """
        path = self.artifacts["onnx"].path
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if self._dense_onnx is None or self._dense_onnx[0] != key:
            self._dense_onnx = (key, onnx.load(str(path)))
        return self._dense_onnx[1]

    def release_dense_onnx(self) -> None:
        """Drop the parsed model.onnx (as large as the file); a later ``dense_onnx`` parses it again."""
        self._dense_onnx = None

    def param_names(self) -> dict[str, str]:
        return {r.name: r.param for r in self.layers}

    def pruned_weights(self) -> dict[str, Any]:
        """Each pruned layer's weight as a numpy array in its own dtype (bfloat16 widened)."""
        out = {}
        for r in self.layers:
            w = get_param(self.model, r.param).detach().cpu()
            out[r.name] = (w.float() if w.dtype == torch.bfloat16 else w).numpy()
        return out
