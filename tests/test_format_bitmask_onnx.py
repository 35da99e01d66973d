"""Self-decoding bitmask ONNX: exact decoders, checker, opset handling, name hygiene."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from secateurs.exporters.bitmask_onnx_codec import (
    decode_bitmask,
    encode_bitmask,
    read_bitmask_weights,
    to_bitmask_initializers,
)
from secateurs.validators.constant_eval import evaluate_constants
from tests.sparse_helpers import identity_model, pruned, same_bits

SHAPES = [(8, 4, 3, 3), (16, 1, 3, 3), (4, 8, 1, 1), (3, 5, 2, 7)]
SPARSITIES = [0.0, 0.3, 0.7, 0.99, 1.0]
DTYPES = [np.float32, np.float16]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sparsity", SPARSITIES)
@pytest.mark.parametrize("shape", SHAPES)
def test_numpy_codec_round_trip(shape, sparsity, dtype):
    w = pruned(shape, sparsity, dtype)
    mask, values = encode_bitmask(w)
    assert mask.dtype == np.uint8 and mask.size == -(-w.size // 8)
    assert values.size == np.count_nonzero(w) + 1 and values[0] == 0
    assert same_bits(decode_bitmask(mask, values, shape), w)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sparsity", SPARSITIES)
@pytest.mark.parametrize("shape", SHAPES)
def test_graph_decoder_round_trip(shape, sparsity, dtype):
    w = pruned(shape, sparsity, dtype)
    out, (rec,) = to_bitmask_initializers(identity_model({"w": w}), ["w"])
    assert rec.nnz == np.count_nonzero(w) and rec.dense_bytes == w.nbytes
    if rec.encoding == "dense":
        assert "not smaller" in rec.note and rec.stored_bytes == w.nbytes
        assert [t.name for t in out.graph.initializer] == ["w"]
        return
    assert rec.encoding == "bitmask" and rec.stored_bytes < w.nbytes
    assert "w" not in {t.name for t in out.graph.initializer}
    onnx.checker.check_model(out, full_check=True)
    assert same_bits(evaluate_constants(out, ["w"])["w"], w)
    assert same_bits(read_bitmask_weights(out)["w"], w)


@pytest.mark.parametrize("sparsity", [0.5, 1.0])
def test_onnxruntime_decoder_is_exact(sparsity):
    w = pruned((16, 5, 3, 3), sparsity, np.float32)
    out, (rec,) = to_bitmask_initializers(identity_model({"w": w}), ["w"])
    assert rec.encoding == "bitmask"
    assert same_bits(evaluate_constants(out, ["w"], backend="onnxruntime")["w"], w)


def test_encoding_choices_for_empty_and_full_tensors():
    big = (32, 16, 3, 3)
    _, recs = to_bitmask_initializers(
        identity_model({"zero": np.zeros(big, np.float32), "full": pruned(big, 0.0, np.float32)}),
        ["zero", "full"],
    )
    assert [(r.encoding, r.nnz) for r in recs] == [("bitmask", 0), ("dense", 4608)]
    assert recs[0].stored_bytes < 4608 // 8 + 1000


def test_decode_bitmask_rejects_inconsistent_inputs():
    mask, values = encode_bitmask(pruned((3, 5), 0.5, np.float32))
    with pytest.raises(ValueError, match="values"):
        decode_bitmask(mask, values[:-1], (3, 5))
    with pytest.raises(ValueError, match="bytes"):
        decode_bitmask(mask[:1], values, (3, 5))
    bad = mask.copy()
    bad[-1] |= 1  # bit 16 of a 15-element tensor
    with pytest.raises(ValueError, match="padding"):
        decode_bitmask(bad, values, (3, 5))


def test_names_never_collide_with_existing_ones():
    w = pruned((8, 8, 3, 3), 0.8, np.float32)
    taken = ["bm", "bm/shifts", "bm/one", "w__mask", "w__values", "bm/sh", "bm_1"]
    model = identity_model({"w": w, **{n: np.ones(1, np.float32) for n in taken}})
    model.graph.node.append(helper.make_node("Identity", ["bm"], ["bm/bits"]))
    model.graph.output.append(helper.make_tensor_value_info("bm/bits", TensorProto.FLOAT, [1]))
    out, (rec,) = to_bitmask_initializers(model, ["w"])
    assert rec.encoding == "bitmask"
    onnx.checker.check_model(out, full_check=True)  # SSA: every name produced once
    inits = {t.name: numpy_helper.to_array(t) for t in out.graph.initializer}
    assert all(same_bits(inits[n], np.ones(1, np.float32)) for n in taken)
    assert same_bits(evaluate_constants(out, ["w"])["w"], w)


def test_second_pass_encodes_more_and_keeps_metadata():
    ws = {"a": pruned((8, 8, 3, 3), 0.8, np.float32), "b": pruned((8, 8, 3, 3), 0.9, np.float16)}
    once, _ = to_bitmask_initializers(identity_model(ws), ["a"])
    twice, _ = to_bitmask_initializers(once, ["b"])
    onnx.checker.check_model(twice, full_check=True)
    decoded = read_bitmask_weights(twice)
    assert sorted(decoded) == ["a", "b"] and all(same_bits(decoded[k], ws[k]) for k in ws)
    assert all(same_bits(v, ws[k]) for k, v in evaluate_constants(twice, ["a", "b"]).items())


def test_low_opset_is_raised_when_no_op_changes_meaning():
    w = pruned((8, 8, 3, 3), 0.8, np.float32)
    model = identity_model({"w": w}, opset=13)
    model.graph.node[0].op_type = "Abs"  # same schema at 13 and 18 (Identity changed at 14)
    model.ir_version = 7
    out, (rec,) = to_bitmask_initializers(model, ["w"])
    assert rec.encoding == "bitmask"
    assert [(o.domain, o.version) for o in out.opset_import] == [("", 18)]
    assert out.ir_version >= 8
    onnx.checker.check_model(out, full_check=True)


def test_low_opset_with_changed_ops_keeps_everything_dense():
    w = pruned((8, 8, 3, 3), 0.8, np.float32)
    model = identity_model({"w": w}, opset=13)
    model.graph.node[0].op_type = "Relu"  # Relu changed at opset 14
    out, (rec,) = to_bitmask_initializers(model, ["w"])
    assert rec.encoding == "dense" and "Relu" in rec.note and "version_converter" in rec.note
    assert out.SerializeToString() == model.SerializeToString()


def test_model_is_unchanged_when_nothing_pays_off():
    model = identity_model({"w": pruned((4, 4), 0.5, np.float32)})
    out, (rec,) = to_bitmask_initializers(model, ["w"])
    assert rec.encoding == "dense" and out.SerializeToString() == model.SerializeToString()


def test_input_model_is_not_mutated():
    model = identity_model({"w": pruned((8, 8, 3, 3), 0.8, np.float32)}, opset=13)
    model.graph.node[0].op_type = "Abs"
    before = model.SerializeToString()
    _, (rec,) = to_bitmask_initializers(model, ["w"])
    assert rec.encoding == "bitmask"  # opset raised and graph rewritten, on the copy
    assert model.SerializeToString() == before


def test_negative_zeros_are_canonicalized_and_noted():
    w = pruned((8, 4, 3, 3), 0.8, np.float32)
    w[w == 0] = -0.0
    out, (rec,) = to_bitmask_initializers(identity_model({"w": w}), ["w"])
    assert "negative zero" in rec.note
    got = evaluate_constants(out, ["w"])["w"]
    assert np.array_equal(got, w) and not np.signbit(got[got == 0]).any()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("fill", ["none", "all", 0.1, 0.5, 0.9])
@pytest.mark.parametrize("size", [1, 7, 8, 9, 1001])
def test_encoder_equals_the_simple_reference(size, fill, dtype):
    """np.compress into a preallocated array gives what flat[keep] after a leading zero gives."""
    rng = np.random.default_rng(size)
    w = rng.standard_normal(size).astype(dtype)
    keep = {"none": np.zeros(size, bool), "all": np.ones(size, bool)}.get(fill)
    keep = rng.random(size) < fill if keep is None else keep
    w[~keep] = np.where(rng.random(int((~keep).sum())) < 0.5, -0.0, 0.0)
    if keep.any():
        w[np.flatnonzero(keep)[-1]] = np.nan
    mask, values = encode_bitmask(w)
    assert same_bits(mask, np.packbits(w != 0))
    assert same_bits(values, np.concatenate([np.zeros(1, dtype), w[w != 0]]))
    assert same_bits(decode_bitmask(mask, values, w.shape), np.where(w == 0, np.zeros(1, dtype), w))
