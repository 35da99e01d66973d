"""What the formats derived from model.onnx share: that file, its pruned initializers, its layout."""

from __future__ import annotations

from pathlib import Path

from secateurs.errors import ExportError
from secateurs.exporters import DENSE_ONNX
from secateurs.exporters.common.onnx_graph import save_model
from secateurs.validators.pruned_map import match_pruned


def dense_onnx_path(ctx) -> Path:
    """model.onnx of this run; the export stage guarantees it is exported first."""
    artifact = ctx.artifacts.get(DENSE_ONNX)
    if artifact is None or not artifact.path.is_file():
        raise ExportError("model.onnx must be exported before the formats derived from it")
    return artifact.path


def pruned_initializers(ctx, model=None) -> list[str]:
    """model.onnx initializers holding pruned weights, each once; matched once per run."""
    if not ctx.onnx_weights:
        model = model if model is not None else load_dense(ctx)
        ctx.onnx_weights = match_pruned(model, ctx.pruned_weights(), ctx.param_names()).matches
    return list(dict.fromkeys(ctx.onnx_weights.values()))


def load_dense(ctx):
    dense_onnx_path(ctx)  # a clear error if model.onnx was not exported first
    return ctx.dense_onnx()


def load_dense_with_pruned(ctx):
    """(onnx.ModelProto of model.onnx, its pruned initializer names)."""
    model = load_dense(ctx)
    return model, pruned_initializers(ctx, model)


def save_onnx(ctx, model, path: Path) -> None:
    """Save beside model.onnx in the same layout: one file, or tensors in ``<name>.data``."""
    try:
        save_model(model, path, external=len(ctx.artifacts[DENSE_ONNX].files) > 1)
    except ValueError as e:
        raise ExportError(f"{path.name}: cannot write ONNX ({e})") from e
