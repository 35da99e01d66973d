"""What validation holds, and for how long: batched decoder checks, chunked comparisons,
model.onnx released before the onnxruntime sessions, fingerprints instead of its outputs."""

import weakref

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from secateurs.config import RunConfig
from secateurs.exporters import bitmask_onnx
from secateurs.exporters.bitmask_onnx_codec import to_bitmask_initializers
from secateurs.pipeline import validate
from secateurs.pipeline.runner import execute
from secateurs.validators import compare, constant_eval, onnxruntime_run
from tests.sparse_helpers import identity_model, pruned


def test_decode_batches_keep_order_and_bound_each_batch():
    dense = identity_model(
        {n: np.zeros(s, np.float32) for n, s in [("a", (4, 4)), ("b", (30,)), ("c", (8,))]}
    )
    dense.graph.initializer.append(numpy_helper.from_array(np.zeros(9, np.float32), "d"))
    batches = bitmask_onnx.decode_batches(["a", "c", "b", "d", "unknown"], dense, limit=24)
    assert batches == [["a", "c"], ["b"], ["d", "unknown"]]  # 16+8; 30 alone (over the limit); 9+0


def _bitmask_file(tmp_path, weights):
    dense = identity_model(weights)
    packed, records = to_bitmask_initializers(dense, list(weights))
    assert {r.encoding for r in records} == {"bitmask"}
    path = tmp_path / "model.bitmask.onnx"
    onnx.save(packed, str(path))
    return path, dense


def test_round_trip_in_batches_passes_and_finds_a_corrupt_later_batch(tmp_path, monkeypatch):
    weights = {n: pruned((8, 4, 3, 3), 0.6, np.float32, seed=i) for i, n in enumerate("abc")}
    path, dense = _bitmask_file(tmp_path, weights)
    monkeypatch.setattr(bitmask_onnx, "DECODE_BATCH_NUMEL", 300)  # one weight (288) per session
    calls = []
    real = constant_eval.evaluate_constants  # round_trip imports it from there when it runs

    def counted(model, names, **kw):
        calls.append(list(names))
        return real(model, names, **kw)

    monkeypatch.setattr(constant_eval, "evaluate_constants", counted)
    check = bitmask_onnx.round_trip(path, dense, 3)
    assert check.passed and check.detail == "3 tensors"
    assert calls == [["a"], ["b"], ["c"]]

    model = onnx.load(str(path))
    values = next(t for t in model.graph.initializer if t.name == "c__values")
    arr = numpy_helper.to_array(values).copy()
    arr[1] = -arr[1]
    values.CopyFrom(numpy_helper.from_array(arr, values.name))
    onnx.save(model, str(path))
    check = bitmask_onnx.round_trip(path, dense, 3)
    assert not check.passed and check.detail == "differ: c"


@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_compare_in_chunks_matches_the_whole(monkeypatch, chunk):
    rng = np.random.default_rng(0)
    b = rng.standard_normal((3, 5, 7)).astype(np.float32)
    a = b + rng.standard_normal(b.shape).astype(np.float32) * 1e-6
    b.reshape(-1)[[20, 104]] = [0.0, -np.inf]
    a.reshape(-1)[[0, 13, 50, 20]] = [np.nan, np.inf, 2.0, 5e-5]  # NaN/Inf and one large error, across chunks
    monkeypatch.setattr(compare, "CHUNK", 1 << 20)
    whole = compare.compare_array("y", a, b, 1e-4, 1e-3)
    monkeypatch.setattr(compare, "CHUNK", chunk)
    assert compare.compare_array("y", a, b, 1e-4, 1e-3) == whole
    assert whole.n_bad == 4 and whole.message.endswith("(3 NaN/Inf)")


def _prints(outputs):
    return [{n: onnxruntime_run.fingerprint(a) for n, a in out.items()} for out in outputs]


def test_identical_to_dense_compares_fingerprints_bit_for_bit(tmp_path):
    out = [{"y": np.array([1.0, 0.0, 2.5], np.float32)}]
    dense = _prints(out)
    assert validate.identical_to_dense(tmp_path / "m.onnx", _prints(out), dense).passed
    negative_zero = [{"y": np.array([1.0, -0.0, 2.5], np.float32)}]  # equal as numbers, not as bits
    assert not validate.identical_to_dense(tmp_path / "m.onnx", _prints(negative_zero), dense).passed
    widened = [{"y": out[0]["y"].astype(np.float64)}]
    assert not validate.identical_to_dense(tmp_path / "m.onnx", _prints(widened), dense).passed
    assert not validate.identical_to_dense(tmp_path / "m.onnx", [{}], dense).passed  # an output missing
    failed = validate.identical_to_dense(tmp_path / "m.onnx", _prints(out), "no session")
    assert not failed.passed and "model.onnx did not run: no session" in failed.detail


def test_onnxruntime_holds_one_inputs_outputs_at_a_time(tmp_path, monkeypatch):
    """Each input's outputs are compared, fingerprinted and dropped before the next input runs."""
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["n"])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["n"])
    graph = helper.make_graph([helper.make_node("Neg", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    held = []
    real_runs = onnxruntime_run._runs

    def runs(*a):
        for out in real_runs(*a):
            assert all(r() is None for r in held), "an earlier input's outputs are still held"
            held.append(weakref.ref(out["y"]))
            yield out
            del out

    monkeypatch.setattr(onnxruntime_run, "_runs", runs)
    inputs = [np.arange(4, dtype=np.float32) + i for i in range(3)]
    refs = [{"y": -x} for x in inputs]
    refs[2] = {"y": inputs[2]}  # a wrong reference fails that input only
    checks, prints = onnxruntime_run.run_compared(path, inputs, refs, 0, 0)
    assert [c.passed for c in checks] == [True, True, False] and len(prints) == 3
    assert prints[0]["y"] == onnxruntime_run.fingerprint(-inputs[0])


def test_no_parsed_model_onnx_under_the_onnxruntime_sessions(tmp_path, monkeypatch):
    held = []
    real = validate.run_compared

    def run_compared(path, *args):
        held.append((path.name, validate_ctx[0]._dense_onnx is not None))
        return real(path, *args)

    validate_ctx = []
    real_validate = validate.validate

    def spy(ctx):
        validate_ctx.append(ctx)
        return real_validate(ctx)

    monkeypatch.setattr(validate, "run_compared", run_compared)
    monkeypatch.setattr(validate, "validate", spy)
    cfg = RunConfig(
        model="tests.models:plain",
        out=tmp_path / "out",
        amount=0.9,
        exporter="torchscript",
        formats=("onnx", "sparse-onnx", "bitmask-onnx"),
    )
    ctx, report = execute(cfg, ["load", "prune", "export", "validate"])
    assert report["status"] == "passed"
    assert held == [(n, False) for n in ("model.onnx", "model.sparse.onnx", "model.bitmask.onnx")]
