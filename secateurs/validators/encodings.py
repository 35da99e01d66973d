"""Exact round trips of every sparse encoding: compare bytes, never allclose.

The ONNX encodings are checked against model.onnx's own initializers (what they
encode; exporters may have folded BatchNorm into the weights), weights.npz against the
pruned PyTorch weights, and model.onnx.spz by the sha256 of what it unpacks to.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from secateurs.errors import SecateursError
from secateurs.validators.results import Check

ROUND_TRIP = "encoded tensors decode bit-exact"


def same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _verdict(path: Path, decoded: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> Check:
    bad = [n for n, arr in decoded.items() if n not in expected or not same_bytes(arr, expected[n])]
    if bad:
        return Check(path.name, ROUND_TRIP, False, f"differ: {', '.join(bad[:8])}")
    return Check(path.name, ROUND_TRIP, True, f"{len(decoded)} tensors")


def dense_initializers(model, names) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    wanted = set(names)
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer if t.name in wanted}


def coo_round_trip(path: Path, dense_model) -> Check:
    import onnx

    from secateurs.sparse.coo import densify_sparse_initializers

    decoded = densify_sparse_initializers(onnx.load(str(path)))
    return _verdict(path, decoded, dense_initializers(dense_model, decoded))


def bitmask_round_trip(path: Path, dense_model) -> Check:
    """Run the decoder subgraphs themselves in onnxruntime, not a numpy re-implementation."""
    import onnx

    from secateurs.sparse.bitmask_graph import read_bitmask_metadata
    from secateurs.sparse.constant_eval import evaluate_constants

    model = onnx.load(str(path))
    names = list(read_bitmask_metadata(model))
    if not names:
        return Check(path.name, ROUND_TRIP, True, "no tensor was smaller as a bitmask; all stored dense")
    try:
        decoded = evaluate_constants(model, names, backend="onnxruntime")
    except Exception as e:  # onnxruntime's own error types
        return Check(path.name, ROUND_TRIP, False, f"decoder failed: {type(e).__name__}: {str(e)[:200]}")
    return _verdict(path, decoded, dense_initializers(dense_model, names))


def npz_round_trip(path: Path, pruned: dict[str, np.ndarray]) -> Check:
    from secateurs.sparse.csr_npz import load_csr_matrices, load_csr_npz

    try:
        load_csr_matrices(path)  # check_format(full_check=True) on every matrix
        decoded = load_csr_npz(path)
    except SecateursError as e:
        return Check(path.name, ROUND_TRIP, False, str(e))
    if set(decoded) != set(pruned):
        return Check(path.name, ROUND_TRIP, False, "weight names differ from the pruned layers")
    return _verdict(path, decoded, pruned)


def spz_round_trip(
    path: Path,
    onnx_path: Path,
    scratch_dir: Path | None = None,
    expected_sha256: dict[str, str] | None = None,
) -> Check:
    """Unpack into a scratch folder; model.onnx and any external-data file must match by sha256.

    The scratch folder goes in ``scratch_dir`` (default: beside ``path``; `verify` uses the
    system temp dir, as a deployed artifact directory may be read-only). The unpacked files
    are compared with the files beside ``onnx_path``, or, when ``expected_sha256`` is given,
    with those hashes (name relative to ``onnx_path``'s folder -> sha256, e.g. the manifest's).
    """
    from secateurs.manifest import sha256
    from secateurs.spz import unpack

    def matches(name: str, restored: Path) -> bool:
        if expected_sha256 is not None:
            return expected_sha256.get(name) == sha256(restored)
        original = onnx_path.parent / name
        return original.is_file() and sha256(restored) == sha256(original)

    label = "unpacks to model.onnx (sha256)"
    scratch = path.parent if scratch_dir is None else scratch_dir
    with tempfile.TemporaryDirectory(dir=scratch, prefix=".unpack-") as tmp:
        try:
            unpack(path, Path(tmp) / onnx_path.name)
        except SecateursError as e:
            return Check(path.name, label, False, str(e))
        restored = sorted(p for p in Path(tmp).rglob("*") if p.is_file())
        names = [p.relative_to(tmp).as_posix() for p in restored]
        wrong = [n for n, p in zip(names, restored) if not matches(n, p)]
    if onnx_path.name not in names:
        return Check(path.name, label, False, f"{onnx_path.name} missing from the container")
    if wrong:
        return Check(path.name, label, False, f"sha256 differs for {', '.join(wrong)}")
    return Check(path.name, label, True, f"{len(names)} file(s), sha256 equal")
