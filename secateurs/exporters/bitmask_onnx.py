"""model.bitmask.onnx: a plain ONNX whose pruned weights decode themselves.

Each weight is a packed uint8 bitmask plus its nonzero values, rebuilt by standard ops
that runtimes constant-fold at session creation, so inference runs as fast as dense.
It passes ``onnx.checker.check_model(full_check=True)``.
"""

from __future__ import annotations

from pathlib import Path

from secateurs.exporters import register
from secateurs.exporters.onnx_derived import load_dense_with_pruned, save_onnx


@register
class BitmaskOnnx:
    name = "bitmask-onnx"
    filename = "model.bitmask.onnx"
    description = "plain ONNX that decodes its bitmask-packed weights at load"
    accepted_by = "onnxruntime (decoder folded at load); onnx.checker full_check"
    needs_onnx = True

    def export(self, ctx, path: Path) -> None:
        from secateurs.sparse.bitmask_graph import to_bitmask_initializers

        model, names = load_dense_with_pruned(ctx)
        packed, records = to_bitmask_initializers(model, names)
        save_onnx(ctx, packed, path)
        ctx.encodings[self.name] = records
