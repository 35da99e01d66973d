"""The per-tensor record every sparse encoder returns, so reports can compare formats."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class TensorEncoding:
    """How one weight tensor was stored.

    ``dense_bytes`` is numel × itemsize. ``stored_bytes`` is what the chosen encoding
    occupies (its payload plus per-tensor overhead, as each encoder documents); it
    equals ``dense_bytes`` when the tensor was kept dense. ``encoding`` is a short tag
    such as ``"coo-int16"``, ``"bitmask"``, ``"csr-int32"`` or ``"dense"``; ``note``
    says why a tensor was kept dense, or anything else a reader should know.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    numel: int
    nnz: int
    dense_bytes: int
    stored_bytes: int
    encoding: str
    note: str = ""

    @property
    def ratio(self) -> float:
        """stored_bytes / dense_bytes (1.0 for an empty tensor)."""
        return self.stored_bytes / self.dense_bytes if self.dense_bytes else 1.0

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (shape as a list)."""
        d = asdict(self)
        d["shape"] = list(self.shape)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> TensorEncoding:
        return cls(**{**data, "shape": tuple(data["shape"])})


def nonzero_stats(flat: np.ndarray) -> tuple[np.ndarray, int]:
    """Return (mask of entries to store, count of ``-0.0`` entries that will decode as ``+0.0``).

    Zero means ``== 0``, so ``-0.0`` is not stored (torch's pruning leaves ``w * 0``,
    i.e. ``-0.0`` for negative weights). NaN is stored like any other value.
    """
    keep = flat != 0
    neg_zeros = 0
    if flat.dtype.kind == "f":
        neg_zeros = int(np.count_nonzero(~keep & np.signbit(flat)))
    return keep, neg_zeros


def record(
    name: str, arr: np.ndarray, nnz: int, stored: int, encoding: str, note: str = ""
) -> TensorEncoding:
    """Record for ``arr`` stored in ``stored`` bytes as ``encoding``."""
    return TensorEncoding(
        name=name,
        shape=tuple(int(d) for d in arr.shape),
        dtype=str(arr.dtype),
        numel=int(arr.size),
        nnz=nnz,
        dense_bytes=int(arr.nbytes),
        stored_bytes=int(stored),
        encoding=encoding,
        note=note,
    )


def dense_record(name: str, arr: np.ndarray, nnz: int, note: str) -> TensorEncoding:
    """Record for a tensor left dense, with the reason."""
    return record(name, arr, nnz, arr.nbytes, "dense", note)


def neg_zero_note(count: int) -> str:
    return f"{count} negative zero(s) decode as +0.0" if count else ""
