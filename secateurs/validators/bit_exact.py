"""Bit-exact comparison of decoded tensors: compare bytes, never allclose.

Every format's round-trip check ends here: what it decoded against what it encoded
(the dense ONNX model's own initializers, or the pruned PyTorch weights).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from secateurs.validators.results import Check

ROUND_TRIP = "encoded tensors decode bit-exact"


def same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape, dtype and bytes (so NaN equals the same NaN, and -0.0 differs from +0.0)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(_as_uints(a), _as_uints(b))


def _as_uints(a: np.ndarray) -> np.ndarray:
    """The array's bytes as unsigned integers of its item size, flat; a view unless it is
    not contiguous (``tobytes`` would copy every array)."""
    flat = np.ascontiguousarray(a).reshape(-1)
    return flat.view(f"u{a.itemsize}" if a.itemsize in (1, 2, 4, 8) else "u1")


def nothing_encoded(n_pruned: int | None = None) -> str:
    """Why a file that encodes no tensor has no round trip to check."""
    if n_pruned == 0:
        return "no pruned weights, so no tensor to encode"
    tensors = "every tensor" if n_pruned is None else f"all {n_pruned} pruned tensors"
    return f"no tensor is encoded: the file kept {tensors} dense because that was smaller"


def verdict(
    path: Path, decoded: dict[str, np.ndarray], expected: dict[str, np.ndarray], n_pruned: int | None = None
) -> Check:
    """The ROUND_TRIP check: every decoded tensor has the bytes of its expected one; with no
    tensor decoded it is not applicable (a check over nothing is no pass)."""
    return tally(path, len(decoded), differing(decoded, expected), n_pruned)


def differing(decoded: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> list[str]:
    """Names of the decoded tensors that are missing from ``expected`` or differ in bytes."""
    return [n for n, arr in decoded.items() if n not in expected or not same_bytes(arr, expected[n])]


def tally(path: Path, n_decoded: int, bad: list[str], n_pruned: int | None = None) -> Check:
    """``verdict`` from a count and the ``differing`` names, for a caller that decodes in
    batches so that the decoded tensors are never all in memory at once."""
    if not n_decoded:
        return Check.not_applicable(path.name, ROUND_TRIP, nothing_encoded(n_pruned))
    if bad:
        return Check(path.name, ROUND_TRIP, False, f"differ: {', '.join(bad[:8])}")
    return Check(path.name, ROUND_TRIP, True, f"{n_decoded} tensors")


def dense_initializers(model, names: Iterable[str]) -> dict[str, np.ndarray]:
    """The named initializers of an onnx.ModelProto, as arrays."""
    from onnx import numpy_helper

    wanted = set(names)
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer if t.name in wanted}
