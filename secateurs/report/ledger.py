"""The size ledger: what each artifact costs on disk, against dense and the information bound.

For each artifact: its size against the dense thing it replaces (its format's
``size_reference``: model.onnx, or the pruned weights' dense bytes), and the bytes
it spends on the pruned weights against their information bound. The bound of one tensor
is its mask entropy N*H2(s) bits plus the order-0 entropy of each byte plane of its
nonzero values: no coder that treats positions and value bytes independently does better.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from secateurs import cpus, exporters

# zstd -19 takes minutes on a 100 MB model.onnx and gzip -6 about as long as the export
# stage; this level is chosen by `make bench-size` (benchmarks/SIZE.md, "General-purpose
# compressors of model.onnx"), which also measures the strongest levels.
ZSTD_LEVEL = 7
ZSTD_MAX_WORKERS = 4  # each worker holds ~20 MiB (tables, job buffers) at this level
CHUNK_BYTES = 1 << 20
BASELINES_DEFINITION = (
    f"model.onnx compressed whole at zstd -{ZSTD_LEVEL} (exact bytes); on ResNet-18/50 model.onnx"
    " with 30% and 70% of conv weights pruned this level came within 0.7% of gzip -9, and"
    " zstd -19 was 1.9-5.2% smaller (make bench-size, benchmarks/SIZE.md)"
)
BOUND_DEFINITION = (
    "mask entropy N*H2(s) bits + order-0 entropy of each byte plane of the nonzero values,"
    " summed over the pruned tensors"
)


def entropy_bits(counts: np.ndarray) -> float:
    counts = counts[counts > 0].astype(np.float64)
    total = counts.sum()
    return float(-(counts * np.log2(counts / total)).sum()) if total else 0.0


def bound_bytes(weight: np.ndarray) -> float:
    """Information bound of one tensor, in bytes (see module doc)."""
    flat = np.ascontiguousarray(weight).reshape(-1)
    esize = flat.dtype.itemsize
    if esize not in (1, 2, 4, 8):
        raise ValueError(f"no bound for {esize}-byte elements")
    words = flat.view(f"<u{esize}")  # an element is zero when all its bytes are zero
    nonzero = words != 0
    nnz = int(np.count_nonzero(nonzero))
    bits = entropy_bits(np.array([flat.size - nnz, nnz]))
    values = words[nonzero]
    for j in range(esize):
        plane = (values >> (8 * j)).astype(np.uint8) if esize > 1 else values
        bits += entropy_bits(np.bincount(plane, minlength=256))
    return bits / 8


def baselines(onnx_path: Path, threads: int = 1) -> dict[str, int]:
    """``{"zstd -<ZSTD_LEVEL>": bytes}``: model.onnx compressed whole, the exact frame size.

    Streamed in 1 MiB chunks, so a model of any size costs tens of MiB, not its size.
    libzstd runs in its multi-threaded mode (as the zstd CLI does by default) with
    ``threads`` (>= 1) workers, at most ``ZSTD_MAX_WORKERS``: its frame is the same for any
    worker count, so report.json does not depend on --threads. The content size is
    pledged, as ``ZstdCompressor.compress`` does.
    """
    import zstandard

    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=min(threads, ZSTD_MAX_WORKERS))
    zs = compressor.compressobj(size=onnx_path.stat().st_size)
    size = 0
    with open(onnx_path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            size += len(zs.compress(chunk))
    return {f"zstd -{ZSTD_LEVEL}": size + len(zs.flush())}


def encoded_weights(ctx) -> dict[str, np.ndarray]:
    """The pruned weights as the ONNX artifacts hold them (BatchNorm may be folded in)."""
    weights = ctx.pruned_weights()
    onnx_artifact = ctx.artifacts.get(exporters.DENSE_ONNX)
    if not onnx_artifact or not onnx_artifact.path.exists():
        return weights
    from onnx import numpy_helper

    from secateurs.exporters.common.onnx_derived import pruned_initializers

    model = ctx.dense_onnx()
    pruned_initializers(ctx, model)
    inits = {t.name: t for t in model.graph.initializer}
    for layer, init in ctx.onnx_weights.items():
        weights[layer] = numpy_helper.to_array(inits[init])
    return weights


def build(ctx) -> dict:
    weights = encoded_weights(ctx)
    bounds = {name: bound_bytes(w) for name, w in weights.items()}
    dense_weight_bytes = sum(int(w.nbytes) for w in weights.values())
    total_bound = sum(bounds.values())
    to_init = ctx.onnx_weights
    onnx_artifact = ctx.artifacts.get(exporters.DENSE_ONNX)
    onnx_size = onnx_artifact.size if onnx_artifact and onnx_artifact.path.exists() else None
    per_layer = {name: {} for name in weights}
    rows = []
    for name, artifact in ctx.artifacts.items():
        fmt = exporters.get(name)
        if fmt.size_reference is None or not artifact.path.exists():
            continue
        records = {r.name: r for r in ctx.encodings.get(name, [])}
        by_layer = {layer: records.get(to_init.get(layer, layer), records.get(layer)) for layer in weights}
        spent = None
        # A file compressed as a whole (weights.npz): its per-tensor bytes are not what it costs.
        if fmt.per_tensor_cost and records and all(by_layer.values()):
            for layer, r in by_layer.items():
                per_layer[layer][artifact.path.name] = r.stored_bytes
            spent = sum(r.stored_bytes for r in {id(r): r for r in by_layer.values()}.values())  # shared once
        reference = dense_weight_bytes if fmt.size_reference == exporters.AGAINST_WEIGHTS else onnx_size
        rows.append(
            {
                "file": artifact.path.name,
                "size": artifact.size,
                "dense_reference": fmt.size_reference,
                "dense_bytes": reference,
                "ratio": artifact.size / reference if reference else None,
                "savings_bytes": reference - artifact.size if reference else None,
                "larger_than_dense": bool(reference) and artifact.size > reference,
                "pruned_weight_bytes": spent,
                "ratio_to_bound": spent / total_bound if spent is not None and total_bound else None,
                "dense_kept": sorted(r.name for r in records.values() if r.encoding in ("dense", "inline")),
            }
        )
    return {
        "model_onnx_bytes": onnx_size,
        "baselines": baselines(onnx_artifact.path, cpus.resolve(ctx.threads)) if onnx_size else {},
        "baselines_definition": BASELINES_DEFINITION if onnx_size else None,
        "pruned_weights_dense_bytes": dense_weight_bytes,
        "bound_bytes": total_bound,
        "bound_definition": BOUND_DEFINITION,
        "artifacts": rows,
        "layers": [
            {
                "name": layer,
                "onnx_initializer": to_init.get(layer),
                "dense_bytes": int(weights[layer].nbytes),
                "bound_bytes": bounds[layer],
                "stored_bytes": per_layer[layer],
            }
            for layer in weights
        ],
    }
