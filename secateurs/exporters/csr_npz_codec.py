"""weights.npz, torch-free: one ``.npz`` of CSR matrices, for Python consumers of pruned weights.

Layout (``np.load(path, allow_pickle=False)`` reads it; no pickles inside):

- ``__meta__``: a JSON string ``{"format": "secateurs-csr-npz/1", "weights":
  [{"name", "shape", "dtype"}, ...]}`` giving each weight's dense shape and dtype, in order.
- per weight ``W`` (dense shape [O, ...]), the CSR of ``W.reshape(O, -1)``:
  ``W.data`` (W's dtype), ``W.indices`` and ``W.indptr`` (both int32, or int64 when
  needed). Three zip entries per weight: each costs ~300 B of headers, which matters
  only for tiny tensors.

Indices are sorted within rows with no duplicates (scipy's canonical format). ``-0.0``
counts as zero. Only float32/float64 are accepted, the float types scipy.sparse holds.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from secateurs.errors import ExportError, InputError, OutputError
from secateurs.exporters.common.records import TensorEncoding, neg_zero_note, nonzero_stats, record
from secateurs.files import AtomicFiles

if TYPE_CHECKING:
    import scipy.sparse

FORMAT = "secateurs-csr-npz/1"
_DTYPES = ("float32", "float64")
_PARTS = ("data", "indices", "indptr")


def _csr_arrays(name: str, arr: np.ndarray) -> tuple[dict[str, np.ndarray], int, int]:
    """The three CSR arrays for one weight, its nnz, and its count of negative zeros."""
    if arr.ndim < 2 or str(arr.dtype) not in _DTYPES:
        raise ExportError(
            f"cannot store {name!r} as CSR: need a float32/float64 array with 2+ dims, "
            f"got {arr.dtype} {arr.shape}"
        )
    rows = arr.reshape(arr.shape[0], -1)
    keep, neg_zeros = nonzero_stats(rows)
    row_idx, col_idx = np.nonzero(keep)
    nnz = int(col_idx.size)
    itype = np.int32 if max(rows.shape[1], nnz) <= np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(rows.shape[0] + 1, dtype=itype)
    np.cumsum(np.bincount(row_idx, minlength=rows.shape[0]), out=indptr[1:])
    parts = {"data": rows[row_idx, col_idx], "indices": col_idx.astype(itype), "indptr": indptr}
    return parts, nnz, neg_zeros


def save_csr_npz(weights: dict[str, np.ndarray], path: str | os.PathLike) -> list[TensorEncoding]:
    """Write ``weights`` as one compressed .npz of CSR matrices, atomically.

    The file appears complete or not at all (temp file + os.replace). ``stored_bytes``
    is data + indices + indptr before compression. Raises ExportError for an
    unsupported array and OutputError when the file cannot be written.
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    meta = []
    records = []
    for name, arr in weights.items():
        if not isinstance(name, str) or not name:
            raise ExportError(f"weight names must be non-empty strings, got {name!r}")
        arr = np.asarray(arr)
        parts, nnz, neg_zeros = _csr_arrays(name, arr)
        arrays.update({f"{name}.{k}": v for k, v in parts.items()})
        meta.append({"name": name, "shape": list(arr.shape), "dtype": str(arr.dtype)})
        stored = sum(v.nbytes for v in parts.values())
        records.append(
            record(
                name, arr, nnz, int(stored), f"csr-{parts['indices'].dtype.name}", neg_zero_note(neg_zeros)
            )
        )
    arrays["__meta__"] = np.array(json.dumps({"format": FORMAT, "weights": meta}))
    _write_atomic(path, arrays)
    return records


def _write_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    try:
        with AtomicFiles(make_parents=False) as out:
            with out.open(path) as f:
                np.savez_compressed(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
            out.commit()
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from e


def _check(data, indices, indptr, shape: tuple[int, ...], dtype: str) -> str:
    """Why this CSR is malformed, or "" when it is canonical and fits ``shape``."""
    if len(shape) < 2 or min(shape) < 0 or not all(isinstance(d, int) for d in shape):
        return f"bad dense shape {shape}"
    if str(data.dtype) != dtype or dtype not in _DTYPES:
        return f"data dtype {data.dtype} does not match recorded {dtype!r}"
    if indices.dtype.kind != "i" or indptr.dtype.kind != "i" or indices.dtype != indptr.dtype:
        return f"indices/indptr must share a signed int dtype, got {indices.dtype}/{indptr.dtype}"
    n_rows, n_cols = shape[0], int(np.prod(shape[1:], dtype=np.int64))
    if data.ndim != 1 or indices.shape != data.shape or indptr.shape != (n_rows + 1,):
        return "data/indices/indptr lengths do not fit the shape"
    if indptr[0] != 0 or indptr[-1] != data.size or np.any(np.diff(indptr) < 0):
        return "indptr is not a non-decreasing 0..nnz sequence"
    if indices.size and (indices.min() < 0 or indices.max() >= n_cols):
        return f"column index out of range [0, {n_cols})"
    step = np.diff(indices.astype(np.int64))
    row_starts = indptr[1:-1][(indptr[1:-1] > 0) & (indptr[1:-1] < data.size)] - 1
    if np.any(np.delete(step, row_starts) <= 0):
        return "column indices not strictly increasing within a row"
    return ""


def _read(path: str | os.PathLike) -> dict[str, tuple]:
    """{name: (data, indices, indptr, dense shape)}, validated; InputError otherwise."""
    try:
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["__meta__"])) if "__meta__" in f.files else {}
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise InputError(f"{path}: not a {FORMAT} file (missing or wrong __meta__)")
            out = {}
            for entry in meta["weights"]:
                name = entry["name"]
                missing = [p for p in _PARTS if f"{name}.{p}" not in f.files]
                if missing:
                    raise InputError(f"{path}: weight {name!r} lacks {missing}")
                data, indices, indptr = (f[f"{name}.{p}"] for p in _PARTS)
                shape = tuple(entry["shape"])
                why = _check(data, indices, indptr, shape, str(entry["dtype"]))
                if why:
                    raise InputError(f"{path}: weight {name!r} is malformed: {why}")
                out[name] = (data, indices, indptr, shape)
            return out
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as e:
        raise InputError(f"cannot read CSR weights from {path}: {e}") from e


def load_csr_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a file written by ``save_csr_npz`` back to dense arrays (exact, zeros +0.0).

    Needs only numpy. Raises InputError naming the file and the problem when it is
    missing, not this format, or structurally malformed.
    """
    out = {}
    for name, (data, indices, indptr, shape) in _read(path).items():
        n_cols = int(np.prod(shape[1:], dtype=np.int64))
        rows = np.repeat(np.arange(shape[0], dtype=np.int64), np.diff(indptr))
        dense = np.zeros(shape[0] * n_cols, dtype=data.dtype)
        dense[rows * n_cols + indices] = data
        out[name] = dense.reshape(shape)
    return out


def load_csr_matrices(path: str | os.PathLike) -> dict[str, scipy.sparse.csr_matrix]:
    """Read the file as scipy CSR matrices [out_channels, prod(rest)], fully checked.

    Each matrix passes ``check_format(full_check=True)``; dense shapes are in the
    file's ``__meta__``. Raises InputError on a malformed file.
    """
    import scipy.sparse

    out = {}
    for name, (data, indices, indptr, shape) in _read(path).items():
        matrix_shape = (shape[0], int(np.prod(shape[1:], dtype=np.int64)))
        try:
            m = scipy.sparse.csr_matrix((data, indices, indptr), shape=matrix_shape)
            m.check_format(full_check=True)
        except ValueError as e:
            raise InputError(f"{path}: weight {name!r} is not a valid CSR matrix: {e}") from e
        out[name] = m
    return out
