"""model.sparse.onnx, torch-free: dense initializers moved to ``graph.sparse_initializer``.

Each tensor becomes a COO SparseTensorProto: its nonzero values (a TensorProto named
as the original) and their linearized [NNZ] indices, ascending. onnxruntime accepts
int8/16/32/64 indices (not uint8) and densifies them at load, so this saves disk, not
memory or latency. ``onnx.checker`` accepts only int64 indices, hence ``strict``;
``check_model(full_check=True)`` fails on any sparse initializer feeding a Conv, because
shape inference types it ``sparse_tensor``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from secateurs.exporters.common.onnx_graph import Namer, copy_model, select_initializers, used_names
from secateurs.exporters.common.records import (
    TensorEncoding,
    dense_record,
    neg_zero_note,
    nonzero_stats,
    record,
)

if TYPE_CHECKING:
    import onnx

_INDEX_TYPES = (np.int8, np.int16, np.int32, np.int64)


def index_dtype(max_index: int, *, strict: bool = False) -> np.dtype:
    """Narrowest signed integer type holding ``max_index`` (int64 when ``strict``)."""
    if strict:
        return np.dtype(np.int64)
    for t in _INDEX_TYPES:
        if max_index <= np.iinfo(t).max:
            return np.dtype(t)
    raise ValueError(f"index {max_index} does not fit in int64")


def to_sparse_initializers(
    model: onnx.ModelProto, names: Iterable[str], *, strict: bool = False
) -> tuple[onnx.ModelProto, list[TensorEncoding]]:
    """Return a copy of ``model`` with the named initializers stored as COO, and a record each.

    A tensor stays dense (encoding ``"dense"``, with the reason in ``note``) when values
    plus indices would not be smaller than the dense bytes, or when it is also a graph
    input. An all-zero tensor is stored with nnz == 0, which onnxruntime loads.
    ``stored_bytes`` is values + indices bytes. ``-0.0`` counts as zero.
    """
    from onnx import helper, numpy_helper

    out = copy_model(model)
    graph = out.graph
    fresh = Namer(used_names(graph))
    records: list[TensorEncoding] = []
    drop: list[int] = []
    for name, idx, reason in select_initializers(graph, names):
        tensor = graph.initializer[idx]
        arr = numpy_helper.to_array(tensor)
        flat = arr.reshape(-1)
        keep, neg_zeros = nonzero_stats(flat)
        positions = np.flatnonzero(keep)
        nnz = int(positions.size)
        if reason:
            records.append(dense_record(name, arr, nnz, reason))
            continue
        itype = index_dtype(int(positions[-1]) if nnz else 0, strict=strict)
        stored = nnz * (arr.dtype.itemsize + itype.itemsize)
        if stored >= arr.nbytes:
            note = f"COO ({stored} B with {itype.name} indices) not smaller than dense"
            records.append(dense_record(name, arr, nnz, note))
            continue
        values = numpy_helper.from_array(flat[positions], name)
        indices = numpy_helper.from_array(positions.astype(itype), fresh(f"{name}_indices"))
        graph.sparse_initializer.append(helper.make_sparse_tensor(values, indices, list(arr.shape)))
        drop.append(idx)
        records.append(record(name, arr, nnz, stored, f"coo-{itype.name}", neg_zero_note(neg_zeros)))
    for idx in sorted(drop, reverse=True):
        del graph.initializer[idx]
    return out, records


def densify_sparse_initializers(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Decode every main-graph sparse initializer back to a dense array, by name.

    Accepts both index layouts the ONNX spec allows: linearized [NNZ] and [NNZ, rank].
    """
    from onnx import numpy_helper

    out: dict[str, np.ndarray] = {}
    for sparse in model.graph.sparse_initializer:
        values = numpy_helper.to_array(sparse.values)
        indices = numpy_helper.to_array(sparse.indices).astype(np.int64)
        shape = tuple(int(d) for d in sparse.dims)
        if indices.ndim == 2:
            indices = np.ravel_multi_index(tuple(indices.T), shape)
        dense = np.zeros(int(np.prod(shape, dtype=np.int64)), dtype=values.dtype)
        dense[indices] = values
        out[sparse.values.name] = dense.reshape(shape)
    return out
