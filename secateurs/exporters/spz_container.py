"""model.onnx.spz: model.onnx with every tensor in its smallest encoding, zstd-compressed.

``secateurs unpack`` restores model.onnx byte for byte (docs/FORMAT.md). No runtime
loads .spz directly: it is the artifact to ship and store, unpacked at deploy time.
"""

from __future__ import annotations

from pathlib import Path

from secateurs.exporters import register
from secateurs.exporters.onnx_derived import dense_onnx_path, pruned_initializers


@register
class SpzContainer:
    name = "spz"
    filename = "model.onnx.spz"
    description = "model.onnx packed; `secateurs unpack` restores it byte for byte"
    accepted_by = "no runtime: `secateurs unpack` first (restores model.onnx exactly)"
    needs_onnx = True

    def export(self, ctx, path: Path) -> None:
        from secateurs import spz

        spz.pack(dense_onnx_path(ctx), path)
        ctx.encodings[self.name] = tensor_records(path, set(pruned_initializers(ctx)))


def tensor_records(path: Path, names: set[str]) -> list:
    """What the container spent on each named tensor, from its own index."""
    from secateurs import spz
    from secateurs.sparse.records import TensorEncoding

    records = []
    for info in spz.inspect(path):
        if info.name not in names or info.file:
            continue
        numel = 1
        for d in info.shape:
            numel *= d
        records.append(
            TensorEncoding(
                name=info.name,
                shape=tuple(info.shape),
                dtype=info.dtype,
                numel=numel,
                nnz=round((1 - info.sparsity) * numel),
                dense_bytes=info.nbytes,
                stored_bytes=info.sizes.get(info.encoding, info.nbytes),
                encoding=info.encoding,
            )
        )
    return records
