"""model.bitmask.onnx, torch-free: encode pruned weights as a self-decoding packed bitmask.

Each encoded weight W (numel N, nnz K) is stored as two initializers: ``mask``, uint8
[ceil(N/8), 1], the keep-bits packed MSB-first (np.packbits order, padding bits zero);
and ``values``, [K + 1] of W's dtype, a leading +0.0 then the kept values in row-major
order. A subgraph of standard ops rebuilds W under its original name, so its consumers
are unchanged::

    BitShift(mask, [7..0]) -> BitwiseAnd(1) -> Reshape[-1] -> Slice[0:N] -> Cast(int64)
    -> CumSum -> Mul(bits) -> Gather(values) -> Reshape(W.shape)

Every input is a constant, so onnxruntime folds it at session creation (bit-identical
outputs, unchanged latency); a NonZero->ScatterND decoder is not folded. BitwiseAnd
needs ai.onnx opset 18: a lower opset is raised only when no op in the model changes
meaning, else everything stays dense with the reason. The model passes
``onnx.checker.check_model(full_check=True)``. Metadata key ``secateurs.bitmask`` maps
each encoded name to its mask/values initializers and shape, for ``read_bitmask_weights``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from secateurs.exporters.common.onnx_graph import (
    Namer,
    copy_model,
    raise_default_opset,
    select_initializers,
    used_names,
)
from secateurs.exporters.common.records import (
    TensorEncoding,
    dense_record,
    neg_zero_note,
    nonzero_stats,
    record,
)

if TYPE_CHECKING:
    import onnx

MIN_OPSET = 18
METADATA_KEY = "secateurs.bitmask"
_P = "bmk/"  # shared constants; per-weight tensors are bm/, bm_1/, ...


def encode_bitmask(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (packed mask bytes [ceil(N/8)], values with a leading 0 [nnz + 1])."""
    flat = np.asarray(arr).reshape(-1)
    keep, _ = nonzero_stats(flat)
    values = np.zeros(int(np.count_nonzero(keep)) + 1, flat.dtype)
    np.compress(keep, flat, out=values[1:])  # twice as fast as flat[keep], and no second copy
    return np.packbits(keep), values


def decode_bitmask(mask_bytes: np.ndarray, values: np.ndarray, shape: Iterable[int]) -> np.ndarray:
    """Exact numpy inverse of ``encode_bitmask`` (what the ONNX subgraph computes).

    Raises ValueError when the mask length, padding bits or value count do not match.
    """
    shape = tuple(int(d) for d in shape)
    numel = int(np.prod(shape, dtype=np.int64))
    mask_bytes = np.asarray(mask_bytes, dtype=np.uint8).reshape(-1)
    values = np.asarray(values).reshape(-1)
    if mask_bytes.size != -(-numel // 8):
        raise ValueError(f"mask has {mask_bytes.size} bytes, shape {shape} needs {-(-numel // 8)}")
    all_bits = np.unpackbits(mask_bytes)
    if all_bits[numel:].any():
        raise ValueError("mask padding bits are not zero")
    bits = all_bits[:numel].astype(np.int64)
    if values.size != int(bits.sum()) + 1:
        raise ValueError(f"{values.size} values for {int(bits.sum())} mask bits (+1 leading zero)")
    return values[np.cumsum(bits) * bits].reshape(shape)


class _Consts:
    """Shared small int initializers, created once per model and only when committed."""

    def __init__(self, fresh: Namer) -> None:
        self.fresh = fresh
        self.names: dict[tuple, str] = {}
        self.protos: list = []

    def get(self, base: str, arr: np.ndarray, pending: dict) -> str:
        from onnx import numpy_helper

        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key in self.names:
            return self.names[key]
        if key not in pending:
            pending[key] = numpy_helper.from_array(arr, self.fresh(_P + base))
        return pending[key].name

    def commit(self, pending: dict) -> None:
        for key, proto in pending.items():
            self.names[key] = proto.name
            self.protos.append(proto)


def _decoder(name, arr, consts, fresh):
    """Build (nodes, initializers, pending consts, payload bytes) decoding ``arr`` as ``name``."""
    from onnx import TensorProto, helper, numpy_helper

    mask, values = encode_bitmask(arr)
    pending: dict = {}
    c = {
        "shifts": consts.get("shifts", np.arange(7, -1, -1, dtype=np.uint8), pending),
        "one": consts.get("one", np.ones(1, np.uint8), pending),
        "flat": consts.get("flat", np.array([-1], np.int64), pending),
        "zero": consts.get("zero", np.zeros(1, np.int64), pending),
        "axis": consts.get("axis0", np.zeros((), np.int64), pending),
        "end": consts.get(f"end{arr.size}", np.array([arr.size], np.int64), pending),
        "shape": consts.get("shape", np.array(arr.shape, np.int64), pending),
    }
    inits = [
        numpy_helper.from_array(mask.reshape(-1, 1), fresh(f"{name}__mask")),
        numpy_helper.from_array(values, fresh(f"{name}__values")),
    ]
    tag = fresh("bm")  # short names: every node repeats them, and tiny weights pay for it
    t = {k: fresh(f"{tag}/{k}") for k in ("sh", "bits", "flat", "cut", "i64", "cum", "idx", "g")}
    spec = [
        ("BitShift", [inits[0].name, c["shifts"]], t["sh"], {"direction": "RIGHT"}),
        ("BitwiseAnd", [t["sh"], c["one"]], t["bits"], {}),
        ("Reshape", [t["bits"], c["flat"]], t["flat"], {}),
        ("Slice", [t["flat"], c["zero"], c["end"], c["zero"]], t["cut"], {}),
        ("Cast", [t["cut"]], t["i64"], {"to": TensorProto.INT64}),
        ("CumSum", [t["i64"], c["axis"]], t["cum"], {}),
        ("Mul", [t["cum"], t["i64"]], t["idx"], {}),
        ("Gather", [inits[1].name, t["idx"]], t["g"], {"axis": 0}),
        ("Reshape", [t["g"], c["shape"]], name, {}),
    ]
    nodes = [helper.make_node(op, ins, [out], **attrs) for op, ins, out, attrs in spec]
    overhead = sum(n.ByteSize() for n in nodes) + sum(p.ByteSize() for p in pending.values())
    return nodes, inits, pending, int(mask.nbytes + values.nbytes + overhead)


def to_bitmask_initializers(
    model: onnx.ModelProto, names: Iterable[str]
) -> tuple[onnx.ModelProto, list[TensorEncoding]]:
    """Return a copy of ``model`` whose named initializers decode themselves, and a record each.

    ``stored_bytes`` is mask + values bytes plus the serialized decoder nodes and any new
    constants; a tensor stays dense unless that is below its dense bytes, or when it is
    also a graph input, or when the opset cannot be raised (see module doc).
    """
    from onnx import numpy_helper

    out = copy_model(model)
    graph = out.graph
    fresh = Namer(used_names(graph))
    consts = _Consts(fresh)
    records: dict[str, TensorEncoding] = {}
    accepted = []
    for name, idx, reason in select_initializers(graph, names):
        arr = numpy_helper.to_array(graph.initializer[idx])
        keep, neg_zeros = nonzero_stats(arr.reshape(-1))
        nnz = int(keep.sum())
        if reason:
            records[name] = dense_record(name, arr, nnz, reason)
            continue
        nodes, inits, pending, stored = _decoder(name, arr, consts, fresh)
        if stored >= arr.nbytes:
            note = f"bitmask ({stored} B incl. decoder) not smaller than dense"
            records[name] = dense_record(name, arr, nnz, note)
            continue
        consts.commit(pending)
        accepted.append((name, arr, nodes, inits))
        records[name] = record(name, arr, nnz, stored, "bitmask", neg_zero_note(neg_zeros))
    if not accepted:
        return copy_model(model), list(records.values())
    why = raise_default_opset(out, MIN_OPSET)
    if why:
        for name, arr, *_ in accepted:
            records[name] = dense_record(name, arr, records[name].nnz, why)
        return copy_model(model), list(records.values())
    _commit(graph, out, accepted, consts.protos)
    return out, list(records.values())


def _commit(graph, model, accepted, const_protos) -> None:
    """Swap the accepted initializers for their decoders and record them in metadata."""
    encoded = {name for name, *_ in accepted}
    kept = [t for t in graph.initializer if t.name not in encoded]
    del graph.initializer[:]
    graph.initializer.extend(kept + const_protos)
    nodes = [n for _, _, ns, _ in accepted for n in ns] + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    meta = read_bitmask_metadata(model)
    for name, arr, _, inits in accepted:
        graph.initializer.extend(inits)
        meta[name] = {"mask": inits[0].name, "values": inits[1].name, "shape": list(arr.shape)}
    for i, prop in enumerate(model.metadata_props):
        if prop.key == METADATA_KEY:
            del model.metadata_props[i]
            break
    model.metadata_props.add(key=METADATA_KEY, value=json.dumps(meta, sort_keys=True))


def read_bitmask_metadata(model: onnx.ModelProto) -> dict[str, dict]:
    """The ``secateurs.bitmask`` metadata: {weight: {"mask", "values", "shape"}}."""
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            return json.loads(prop.value)
    return {}


def read_bitmask_weights(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Decode every bitmask-encoded weight with numpy (no ONNX runtime), by name."""
    from onnx import numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    return {
        name: decode_bitmask(
            numpy_helper.to_array(inits[m["mask"]]),
            numpy_helper.to_array(inits[m["values"]]),
            m["shape"],
        )
        for name, m in read_bitmask_metadata(model).items()
    }
