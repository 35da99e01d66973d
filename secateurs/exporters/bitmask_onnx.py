"""model.bitmask.onnx: a plain ONNX whose pruned weights decode themselves.

Each weight is a packed uint8 bitmask plus its nonzero values, rebuilt by standard ops
that runtimes constant-fold at session creation, so inference runs as fast as dense.
It passes ``onnx.checker.check_model(full_check=True)``. Encoding and decoding:
``bitmask_onnx_codec``.
"""

from __future__ import annotations

from pathlib import Path

from secateurs.exporters import ONNXRUNTIME, CheckInputs, Format, register


@register
class BitmaskOnnx(Format):
    name = "bitmask-onnx"
    filename = "model.bitmask.onnx"
    description = "plain ONNX that decodes its bitmask-packed weights at load"
    accepted_by = "onnxruntime (decoder folded at load); onnx.checker full_check"
    position = 3
    runtimes = (ONNXRUNTIME,)
    derives_from_onnx = True

    def export(self, ctx, path: Path) -> None:
        from secateurs.exporters.bitmask_onnx_codec import to_bitmask_initializers
        from secateurs.exporters.common.onnx_derived import load_dense_with_pruned, save_onnx

        model, names = load_dense_with_pruned(ctx)
        packed, records = to_bitmask_initializers(model, names)
        save_onnx(ctx, packed, path)
        ctx.encodings[self.name] = records

    def decode(self, path: Path) -> dict:
        """With numpy (the exact inverse); the check runs the model's own decoders instead."""
        import onnx

        from secateurs.exporters.bitmask_onnx_codec import read_bitmask_weights

        return read_bitmask_weights(onnx.load(str(path)))

    def checks(self, run: CheckInputs, path: Path) -> list:
        from secateurs.validators import onnx_structure

        return [
            onnx_structure.checker(path, full_check=True),
            round_trip(path, run.dense_model, len(run.weights)),
        ]


def round_trip(path: Path, dense_model, n_pruned: int | None = None):
    """Run the decoder subgraphs themselves in onnxruntime, not a numpy re-implementation."""
    import onnx

    from secateurs.exporters.bitmask_onnx_codec import read_bitmask_metadata
    from secateurs.validators import bit_exact
    from secateurs.validators.constant_eval import evaluate_constants
    from secateurs.validators.results import Check

    model = onnx.load(str(path))
    names = list(read_bitmask_metadata(model))
    if not names:
        return Check.not_applicable(path.name, bit_exact.ROUND_TRIP, bit_exact.nothing_encoded(n_pruned))
    try:
        decoded = evaluate_constants(model, names, backend="onnxruntime")
    except Exception as e:  # onnxruntime's own error types
        return Check(
            path.name, bit_exact.ROUND_TRIP, False, f"decoder failed: {type(e).__name__}: {str(e)[:200]}"
        )
    return bit_exact.verdict(path, decoded, bit_exact.dense_initializers(dense_model, names))
