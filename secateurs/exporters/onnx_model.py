"""model.onnx: the dense pruned model as ONNX, the file the derived formats are written from.

``onnx_model_torch`` exports it. `validate` proves it passes the full checker, leaks no
prune state, and still holds every pruned weight's zeros; onnxruntime then runs it
against PyTorch (and `verify` against reference.npz).
"""

from __future__ import annotations

from pathlib import Path

from secateurs.exporters import DENSE_ONNX, ONNXRUNTIME, CheckInputs, Format, register


@register
class OnnxModel(Format):
    name = DENSE_ONNX
    filename = "model.onnx"
    description = "dense ONNX (zeros stored as floats)"
    accepted_by = "onnxruntime; any ONNX runtime; onnx.checker full_check"
    position = 0
    runtimes = (ONNXRUNTIME,)

    def export(self, ctx, path: Path) -> None:
        from secateurs.exporters.onnx_model_torch import export_model

        export_model(ctx, path)

    def checks(self, run: CheckInputs, path: Path) -> list:
        """Structure; and it records which initializer holds each pruned layer (ctx.onnx_weights)."""
        from secateurs.validators import onnx_structure
        from secateurs.validators.pruned_map import match_pruned

        ctx, weights = run.ctx, run.weights
        out = [onnx_structure.checker(path, full_check=True), onnx_structure.leaks(path, run.dense_model)]
        found = match_pruned(run.dense_model, weights, ctx.param_names())
        ctx.onnx_weights = found.matches
        changed = [r.name for r in ctx.layers if int((weights[r.name] == 0).sum()) != r.zeros_after]
        zeros = sum(r.zeros_after for r in ctx.layers)
        out.append(onnx_structure.sparsity_survives(path, found, len(weights), changed, zeros))
        return out
