"""COO sparse_initializer: exact round trips, index widths, dense fallbacks, ORT loading."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from secateurs.errors import ExportError
from secateurs.exporters.sparse_onnx_codec import (
    densify_sparse_initializers,
    index_dtype,
    to_sparse_initializers,
)
from tests.sparse_helpers import identity_model, pruned, same_bits

SHAPES = [(8, 4, 3, 3), (16, 1, 3, 3), (4, 8, 1, 1), (3, 5, 2, 7)]
SPARSITIES = [0.0, 0.3, 0.7, 0.99, 1.0]
DTYPES = [np.float32, np.float16]


def all_weights(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    dense = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    return {**dense, **densify_sparse_initializers(model)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sparsity", SPARSITIES)
@pytest.mark.parametrize("shape", SHAPES)
def test_round_trip_is_bit_exact(shape, sparsity, dtype):
    w = pruned(shape, sparsity, dtype)
    model = identity_model({"w": w})
    out, (rec,) = to_sparse_initializers(model, ["w"])
    nnz = int(np.count_nonzero(w))
    itype = index_dtype(int(np.flatnonzero(w).max()) if nnz else 0)
    sparse_bytes = nnz * (w.dtype.itemsize + itype.itemsize)
    assert rec.nnz == nnz and rec.numel == w.size and rec.dense_bytes == w.nbytes
    if sparse_bytes < w.nbytes:
        assert rec.encoding == f"coo-{itype.name}" and rec.stored_bytes == sparse_bytes
        assert len(out.graph.sparse_initializer) == 1 and not out.graph.initializer
    else:
        assert rec.encoding == "dense" and "not smaller" in rec.note
        assert len(out.graph.sparse_initializer) == 0
    assert same_bits(all_weights(out)["w"], w)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sparsity", [0.7, 1.0])
def test_onnxruntime_loads_sparse_initializers_exactly(sparsity, dtype):
    import onnxruntime as ort

    ws = {"a": pruned((300,), sparsity, dtype), "b": pruned((4, 50, 3, 3), sparsity, dtype, 1)}
    out, recs = to_sparse_initializers(identity_model(ws), list(ws))
    assert all(r.encoding.startswith("coo-") for r in recs), recs
    session = ort.InferenceSession(out.SerializeToString(), providers=["CPUExecutionProvider"])
    a, b = session.run(None, {})
    assert same_bits(a, ws["a"]) and same_bits(b, ws["b"])


def test_index_dtype_is_narrowest_signed_type():
    assert [index_dtype(i).name for i in (0, 127, 128, 32767, 32768, 2**31)] == [
        "int8", "int8", "int16", "int16", "int32", "int64",
    ]  # fmt: skip
    assert index_dtype(5, strict=True).name == "int64"


def test_index_type_follows_the_largest_kept_index():
    w = np.zeros(1000, np.float32)
    w[[3, 100]] = 1.0
    _, (rec,) = to_sparse_initializers(identity_model({"w": w}), ["w"])
    assert rec.encoding == "coo-int8"
    w[999] = 2.0
    out, (rec,) = to_sparse_initializers(identity_model({"w": w}), ["w"])
    assert rec.encoding == "coo-int16"
    (sp,) = out.graph.sparse_initializer
    assert sp.indices.data_type == TensorProto.INT16 and sp.indices.raw_data
    assert list(numpy_helper.to_array(sp.indices)) == [3, 100, 999]
    assert sp.values.name == "w" and list(sp.dims) == [1000]


def test_strict_uses_int64_and_passes_checker():
    w = pruned((4, 8, 3, 3), 0.9, np.float32)
    model = identity_model({"w": w, "z": np.zeros((4, 8, 3, 3), np.float32)})
    out, recs = to_sparse_initializers(model, ["w", "z"], strict=True)
    assert [r.encoding for r in recs] == ["coo-int64", "coo-int64"]
    assert recs[1].nnz == 0 and recs[1].stored_bytes == 0
    onnx.checker.check_model(out)
    assert same_bits(all_weights(out)["w"], w)
    # int64 indices cost 12 B per kept fp32 weight: 40 kept = 480 B > 400 B dense.
    model = identity_model({"w": pruned((100,), 0.6, np.float32)})
    _, (rec,) = to_sparse_initializers(model, ["w"], strict=True)
    assert rec.encoding == "dense"


def test_negative_zeros_are_canonicalized_and_noted():
    w = pruned((8, 4, 3, 3), 0.8, np.float32)
    w[w == 0] = -0.0
    out, (rec,) = to_sparse_initializers(identity_model({"w": w}), ["w"])
    assert rec.nnz == np.count_nonzero(w) and "negative zero" in rec.note
    got = all_weights(out)["w"]
    assert np.array_equal(got, w) and not np.signbit(got[got == 0]).any()


def test_input_model_is_not_mutated_and_other_initializers_stay():
    ws = {"w": pruned((8, 4, 3, 3), 0.9, np.float32), "keep": np.ones(3, np.float32)}
    model = identity_model(ws)
    before = model.SerializeToString()
    out, recs = to_sparse_initializers(model, ["w"])
    assert model.SerializeToString() == before
    assert [t.name for t in out.graph.initializer] == ["keep"] and len(recs) == 1


def test_graph_input_initializer_stays_dense():
    w = pruned((8, 4, 3, 3), 0.9, np.float32)
    model = identity_model({"w": w})
    model.graph.input.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, list(w.shape)))
    out, (rec,) = to_sparse_initializers(model, ["w"])
    assert rec.encoding == "dense" and "graph input" in rec.note
    assert not out.graph.sparse_initializer


def test_unknown_or_repeated_names_raise_export_error():
    model = identity_model({"w": np.ones(4, np.float32)})
    with pytest.raises(ExportError, match="nope"):
        to_sparse_initializers(model, ["w", "nope"])
    with pytest.raises(ExportError, match="more than once"):
        to_sparse_initializers(model, ["w", "w"])
