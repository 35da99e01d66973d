"""model.sparse.onnx: pruned weights in ONNX's own graph.sparse_initializer (COO).

Indices are the narrowest signed integer type per tensor, which onnxruntime loads;
``--onnx-strict`` forces int64, the only type ``onnx.checker`` accepts. Tensors whose
COO form would not be smaller stay dense. Encoding and decoding: ``sparse_onnx_codec``.
"""

from __future__ import annotations

from pathlib import Path

from secateurs.exporters import ONNXRUNTIME, CheckInputs, Format, register


@register
class SparseOnnx(Format):
    name = "sparse-onnx"
    filename = "model.sparse.onnx"
    description = "ONNX sparse_initializer (COO); onnxruntime densifies it at load"
    accepted_by = "onnxruntime (densified at load); onnx.checker only with --onnx-strict, never full_check"
    position = 2
    runtimes = (ONNXRUNTIME,)
    derives_from_onnx = True

    def export(self, ctx, path: Path) -> None:
        from secateurs.exporters.common.onnx_derived import load_dense_with_pruned, save_onnx
        from secateurs.exporters.sparse_onnx_codec import to_sparse_initializers

        model, names = load_dense_with_pruned(ctx)
        sparse, records = to_sparse_initializers(model, names, strict=ctx.config.onnx_strict)
        save_onnx(ctx, sparse, path)
        ctx.encodings[self.name] = records

    def decode(self, path: Path) -> dict:
        import onnx

        from secateurs.exporters.sparse_onnx_codec import densify_sparse_initializers

        return densify_sparse_initializers(onnx.load(str(path)))

    def checks(self, run: CheckInputs, path: Path) -> list:
        from secateurs.validators import onnx_structure

        strict = [onnx_structure.checker(path, full_check=False)] if run.ctx.config.onnx_strict else []
        return [*strict, round_trip(path, run.dense_model, len(run.weights))]


def round_trip(path: Path, dense_model, n_pruned: int | None = None):
    """Every sparse initializer densifies to the bytes of the model.onnx initializer it encodes."""
    from secateurs.validators import bit_exact

    decoded = SparseOnnx().decode(path)
    return bit_exact.verdict(path, decoded, bit_exact.dense_initializers(dense_model, decoded), n_pruned)
