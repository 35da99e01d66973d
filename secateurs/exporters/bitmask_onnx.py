"""model.bitmask.onnx: a plain ONNX whose pruned weights decode themselves.

Each weight is a packed uint8 bitmask plus its nonzero values, rebuilt by standard ops
that runtimes constant-fold at session creation, so inference runs as fast as dense.
It passes ``onnx.checker.check_model(full_check=True)``. Encoding and decoding:
``bitmask_onnx_codec``.

Not written unless --formats asks for it: onnxruntime's constant folding holds every
decoder intermediate until the session is built, ~40 B per encoded weight (upstream
microsoft/onnxruntime#28203). Measured on a ResNet-50 at amount 0.3 (onnxruntime 1.32,
2 threads): its session peaks 988 MiB above the interpreter, model.onnx's 270 MiB, for a
file 0.75x model.onnx's size. A smaller file that needs 3.7x the memory to open is a
trade for the user to choose, not a default (benchmarks/README.md).
"""

from __future__ import annotations

import math
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
    default = False  # see the module doc: session memory

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
    """Run the decoder subgraphs themselves in onnxruntime, not a numpy re-implementation.

    They run a batch of weights per session (``decode_batches``), each compared and dropped
    before the next, so the check's memory stays bounded whatever the model's size.
    """
    import onnx

    from secateurs.exporters.bitmask_onnx_codec import read_bitmask_metadata
    from secateurs.validators import bit_exact
    from secateurs.validators.constant_eval import evaluate_constants
    from secateurs.validators.results import Check

    model = onnx.load(str(path))
    names = list(read_bitmask_metadata(model))
    if not names:
        return Check.not_applicable(path.name, bit_exact.ROUND_TRIP, bit_exact.nothing_encoded(n_pruned))
    bad = []
    for batch in decode_batches(names, dense_model, DECODE_BATCH_NUMEL):
        try:
            decoded = evaluate_constants(model, batch, backend="onnxruntime")
        except Exception as e:  # onnxruntime's own error types
            return Check(
                path.name, bit_exact.ROUND_TRIP, False, f"decoder failed: {type(e).__name__}: {str(e)[:200]}"
            )
        bad += bit_exact.differing(decoded, bit_exact.dense_initializers(dense_model, batch))
    return bit_exact.tally(path, len(names), bad)


DECODE_BATCH_NUMEL = 1 << 22
"""Weights decoded per onnxruntime session in ``round_trip``. Building a session
constant-folds the decoders and holds every intermediate (uint8 bits, int64 cumsum, ...)
until it is done, about 40 B per weight: the whole of a ResNet-50 at once peaked 1.1 GB
above the process, a batch of 4M weights stays near 170 MB."""


def decode_batches(names: list[str], dense_model, limit: int) -> list[list[str]]:
    """``names`` in order, cut into runs of at most ``limit`` elements (by the shape of the
    model.onnx initializer each one encodes; a larger weight is a batch of its own)."""
    sizes = {t.name: math.prod(t.dims) for t in dense_model.graph.initializer}
    batches: list[list[str]] = []
    total = 0
    for name in names:
        size = sizes.get(name, 0)
        if not batches or total + size > limit:
            batches.append([])
            total = 0
        batches[-1].append(name)
        total += size
    return batches
