"""model.sparse.onnx: pruned weights in ONNX's own graph.sparse_initializer (COO).

Indices are the narrowest signed integer type per tensor, which onnxruntime loads;
``--onnx-strict`` forces int64, the only type ``onnx.checker`` accepts. Tensors whose
COO form would not be smaller stay dense.
"""

from __future__ import annotations

from pathlib import Path

from secateurs.exporters import register
from secateurs.exporters.onnx_derived import load_dense_with_pruned, save_onnx


@register
class SparseOnnx:
    name = "sparse-onnx"
    filename = "model.sparse.onnx"
    description = "ONNX sparse_initializer (COO); onnxruntime densifies it at load"
    accepted_by = "onnxruntime (densified at load); onnx.checker only with --onnx-strict, never full_check"
    needs_onnx = True

    def export(self, ctx, path: Path) -> None:
        from secateurs.sparse.coo import to_sparse_initializers

        model, names = load_dense_with_pruned(ctx)
        sparse, records = to_sparse_initializers(model, names, strict=ctx.config.onnx_strict)
        save_onnx(ctx, sparse, path)
        ctx.encodings[self.name] = records
