"""What validation holds, and for how long: batched decoder checks, chunked comparisons,
model.onnx released before the onnxruntime sessions, fingerprints instead of its outputs."""

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from secateurs.config import RunConfig
from secateurs.exporters import bitmask_onnx
from secateurs.exporters.bitmask_onnx_codec import to_bitmask_initializers
from secateurs.pipeline import validate
from secateurs.pipeline.runner import execute
from secateurs.validators import compare, constant_eval
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


def test_identical_to_dense_compares_fingerprints_bit_for_bit(tmp_path):
    out = [{"y": np.array([1.0, 0.0, 2.5], np.float32)}]
    dense = validate.fingerprints(out)
    assert validate.identical_to_dense(tmp_path / "m.onnx", out, dense).passed
    negative_zero = [{"y": np.array([1.0, -0.0, 2.5], np.float32)}]  # equal as numbers, not as bits
    assert not validate.identical_to_dense(tmp_path / "m.onnx", negative_zero, dense).passed
    widened = [{"y": out[0]["y"].astype(np.float64)}]
    assert not validate.identical_to_dense(tmp_path / "m.onnx", widened, dense).passed
    failed = validate.identical_to_dense(tmp_path / "m.onnx", out, validate.fingerprints("no session"))
    assert not failed.passed and "model.onnx did not run: no session" in failed.detail


def test_no_parsed_model_onnx_under_the_onnxruntime_sessions(tmp_path, monkeypatch):
    held = []
    real = validate.run_all

    def run_all(path, inputs, provider):
        held.append((path.name, validate_ctx[0]._dense_onnx is not None))
        return real(path, inputs, provider)

    validate_ctx = []
    real_validate = validate.validate

    def spy(ctx):
        validate_ctx.append(ctx)
        return real_validate(ctx)

    monkeypatch.setattr(validate, "run_all", run_all)
    monkeypatch.setattr(validate, "validate", spy)
    cfg = RunConfig(model="tests.models:plain", out=tmp_path / "out", amount=0.9, exporter="torchscript")
    ctx, report = execute(cfg, ["load", "prune", "export", "validate"])
    assert report["status"] == "passed"
    assert held == [(n, False) for n in ("model.onnx", "model.sparse.onnx", "model.bitmask.onnx")]
