"""The cost stage: parameters and MACs counted on ONNX graphs (exact, on hand-made graphs and tiny
models), and onnxruntime latency well-formed. No timing value or speed-up is asserted."""

import json

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from secateurs.config import RunConfig
from secateurs.errors import UsageError
from secateurs.report import render_html, render_markdown, render_terminal
from secateurs.report.cost import ELSEWHERE
from secateurs.validators import latency, onnx_cost


def graph(nodes, inits, x_shape, opset=17):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", *x_shape[1:]])
    y = helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)
    g = helper.make_graph(nodes, "g", [x], [y], [numpy_helper.from_array(a, n) for n, a in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def weights(*shape, zero_every=0):
    w = np.arange(1, np.prod(shape) + 1, dtype=np.float32).reshape(shape)
    if zero_every:
        w.reshape(-1)[::zero_every] = 0.0
    return w


def test_conv_macs_are_n_cout_hout_wout_cin_kh_kw():
    conv = helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])
    relu = helper.make_node("Relu", ["y"], ["z"])
    model = graph([conv, relu], {"w": weights(4, 3, 3, 3), "b": weights(4)}, (1, 3, 8, 8))
    cost = onnx_cost.count(model, (2, 3, 8, 8))
    assert cost.macs == 2 * 4 * 8 * 8 * 3 * 3 * 3
    assert cost.by_op == {"Conv": cost.macs}
    assert cost.params == 4 * 3 * 3 * 3 + 4
    assert cost.zero_counted == ["Relu"] and cost.unshaped == []
    assert cost.nonzero_macs == cost.macs  # no zero weight


def test_grouped_strided_conv_and_nonzero_macs():
    w = weights(6, 2, 3, 3, zero_every=2)  # 54 of 108 weights zero
    conv = helper.make_node("Conv", ["x", "w"], ["y"], group=3, strides=[2, 2])
    cost = onnx_cost.count(graph([conv], {"w": w}, (1, 6, 9, 9)), (1, 6, 9, 9))
    assert cost.macs == 1 * 6 * 4 * 4 * (6 // 3) * 3 * 3
    assert cost.nonzero_macs == 4 * 4 * int(np.count_nonzero(w)) == cost.macs // 2
    assert cost.nonzero_params == 54 and cost.params == 108


def test_gemm_and_matmul_macs_are_m_n_k():
    flat = helper.make_node("Flatten", ["x"], ["f"])
    gemm = helper.make_node("Gemm", ["f", "wg"], ["g"], transB=1)  # [B, 12] x [5, 12]^T
    resh = helper.make_node("Reshape", ["g", "s"], ["r"])  # [B, 1, 5]
    mm = helper.make_node("MatMul", ["r", "wm"], ["y"])  # [B, 1, 5] x [5, 7]
    inits = {"wg": weights(5, 12, zero_every=3), "s": np.array([0, 1, 5], np.int64), "wm": weights(5, 7)}
    cost = onnx_cost.count(graph([flat, gemm, resh, mm], inits, (1, 3, 2, 2)), (4, 3, 2, 2))
    assert cost.by_op == {"Gemm": 4 * 5 * 12, "MatMul": 4 * 1 * 7 * 5}
    assert cost.nonzero_macs == 4 * 40 + 4 * 35  # 20 of Gemm's 60 weights are zero
    assert cost.params == 60 + 35  # the int64 shape is not a parameter
    assert set(cost.zero_counted) == {"Flatten", "Reshape"}


def test_a_node_without_inferred_shapes_is_listed_not_guessed():
    conv = helper.make_node("Conv", ["x", "w"], ["y"])
    model = graph([conv], {}, (1, 3, 4, 4))
    model.graph.input.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, None))
    cost = onnx_cost.count(model, (1, 3, 4, 4))
    assert cost.macs == 0 and len(cost.unshaped) == 1


def hand_macs(model, shape):
    """MACs of every Conv2d and Linear of a PyTorch model, counted by forward hooks."""
    total = [0]

    def hook(module, inputs, output):
        if isinstance(module, torch.nn.Conv2d):
            k = module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]
            total[0] += output.numel() * k
        else:
            total[0] += output.numel() * module.in_features

    handles = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))
    ]
    with torch.no_grad():
        model(torch.zeros(shape))
    for h in handles:
        h.remove()
    return total[0]


def test_a_tiny_conv_model_counts_as_by_hand():
    from tests.models import plain

    # plain: Conv(3->8, 3x3, pad 1) on 12x12, then Conv(8->4, 3x3) to 10x10
    assert hand_macs(plain(), (1, 3, 12, 12)) == 8 * 12 * 12 * 3 * 9 + 4 * 10 * 10 * 8 * 9


@pytest.mark.parametrize("structure", ["unstructured", "channels"])
def test_a_run_counts_dense_and_pruned_graphs(shared_runs, structure):
    from tests.models import conv_linear

    exact = {"round_to": 1} if structure == "channels" else {}  # counts of 8 and fewer channels
    out, ctx, report = shared_runs.execute(
        "tests.models:conv_linear", amount=0.5, structure=structure, **exact
    )
    cost = report["cost"]
    dense, pruned = cost["dense_original"], cost["pruned"]
    assert cost["denominator"] == "dense original" and cost["shape"] == [1, 3, 8, 8]
    assert dense["macs"] == hand_macs(conv_linear(), (1, 3, 8, 8))
    assert pruned["macs"] == hand_macs(ctx.model, (1, 3, 8, 8))
    assert dense["unshaped"] == [] and pruned["unshaped"] == []
    if structure == "unstructured":
        assert pruned["macs"] == dense["macs"] and pruned["params"] == dense["params"]
        assert cost["macs_ratio"] == 1.0
        assert pruned["nonzero_macs"] < dense["nonzero_macs"]
        assert "zeros save bytes on disk, not time" in cost["note"]
    else:
        assert pruned["macs"] < dense["macs"] and pruned["params"] < dense["params"]
        assert cost["macs_ratio"] > 1.0
    on_disk = json.loads((out / "report.json").read_text())["cost"]
    assert on_disk == cost and "median_ms" not in json.dumps(on_disk)  # no timing in a hashed file
    check_latency(json.loads((out / "manifest.json").read_text())["run"]["latency"], (1, 3, 8, 8))


def check_latency(lat, shape):
    assert lat["denominator"] == "dense original" and lat["runs"] >= 30 and lat["warmup"] >= 1
    assert lat["batches"] == [shape[0], 32] and lat["threads"] >= 1
    assert {"dense original", "model.onnx"} <= set(lat["artifacts"])
    for name, per in lat["artifacts"].items():
        assert "error" not in per, name
        for batch in map(str, lat["batches"]):
            t = per[batch]
            assert t["runs"] == lat["runs"] >= 30
            assert 0 < t["p10_ms"] <= t["median_ms"] <= t["p90_ms"]
    assert set(lat["same_bytes_as"]).isdisjoint(lat["artifacts"])


def test_the_summary_shows_compute_and_latency_only_where_it_is_not_hashed(shared_runs):
    out, ctx, report = shared_runs.execute(
        "tests.models:conv_linear", amount=0.5, structure="channels", round_to=1
    )
    lat = json.loads((out / "manifest.json").read_text())["run"]["latency"]
    text = render_terminal(report, latency=lat)
    assert "compute (MACs)" in text and "x faster than dense" in text and "p10-p90" in text
    for page in (render_markdown(report), render_html(report)):
        assert "compute (MACs)" in page and "faster than dense" not in page
        assert ELSEWHERE.split(":")[0] in page.replace("&#x27;", "'")


@pytest.mark.parametrize("structure", ["unstructured", "channels"])
def test_latency_runs_zero_skips_timing_and_keeps_the_counts(tmp_path, structure):
    from secateurs.pipeline.runner import execute, run_stages

    out = tmp_path / "o"
    cfg = RunConfig(
        model="tests.models:plain",
        out=out,
        latency_runs=0,
        formats=("onnx",),
        structure=structure,
        round_to=1 if structure == "channels" else None,
    )
    _, report = execute(cfg, run_stages(cfg))
    cost = report["cost"]
    assert "latency" not in json.loads((out / "manifest.json").read_text())["run"]
    assert "latency_runs" not in report["config"]  # run-time only, as --threads
    if structure == "unstructured":  # no dense export: model.onnx's graph stands for it
        assert cost["macs_ratio"] == 1.0 and cost["params_ratio"] == 1.0
        assert cost["dense_original"]["nonzero_macs"] is None and "model.onnx's graph" in cost["counted_on"]
    else:
        assert cost["macs_ratio"] > 1.0 and cost["dense_original"]["nonzero_macs"] is not None
    assert "unknown" in render_markdown(report) or structure == "channels"


def test_latency_measures_files_interleaved(tmp_path):
    conv = helper.make_node("Conv", ["x", "w"], ["y"])
    model = graph([conv], {"w": weights(2, 1, 1, 1)}, (1, 1, 4, 4))
    good, bad = tmp_path / "good.onnx", tmp_path / "bad.onnx"
    onnx.save(model, good)
    bad.write_bytes(b"not onnx")
    lat = latency.measure({"a": good, "b": good, "broken": bad}, (1, 1, 4, 4), [1, 3], runs=30, warmup=2)
    assert "error" in lat["artifacts"]["broken"]
    for name in ("a", "b"):
        assert set(lat["artifacts"][name]) == {"1", "3"}
        assert all(t["runs"] == 30 for t in lat["artifacts"][name].values())


def test_the_large_batch_is_capped_by_input_size():
    assert latency.batches((1, 3, 224, 224), False) == [1, 32]
    assert latency.batches((1, 3, 640, 640), False) == [1, 13]  # 64 MiB of float32 input
    assert latency.batches((4, 3, 32, 32), True) == [4]
    assert latency.batches((32, 3, 8, 8), False) == [32]


def test_latency_runs_must_be_a_count(tmp_path):
    with pytest.raises(UsageError, match="--latency-runs"):
        RunConfig(model="builtin:lenet", out=tmp_path, latency_runs=-1)


def test_the_latency_tile_times_the_recommended_file_or_its_twin():
    from secateurs.report.cost import latency_stat

    def t(ms):
        return {"median_ms": ms, "p10_ms": ms, "p90_ms": ms, "runs": 30}

    lat = {
        "batches": [1, 32],
        "denominator": "dense original",
        "same_bytes_as": {"model.sparse.onnx": "model.onnx"},
        "artifacts": {
            "dense original": {"32": t(8.0)},
            "model.onnx": {"32": t(4.0)},
            "b.onnx": {"32": t(2.0)},
        },
    }
    assert latency_stat(lat, "b.onnx").footnote == "b.onnx, median"
    assert latency_stat(lat, "model.sparse.onnx").footnote == "model.onnx, median"
    assert latency_stat(lat, "weights.npz").footnote == "model.onnx, median"  # not timed: model.onnx's
    assert latency_stat(None) is None


@pytest.mark.parametrize(
    ("dense", "ours", "noise"),
    [((9.0, 10.0, 11.0), (8.5, 9.5, 10.5), True), ((9.0, 10.0, 11.0), (4.0, 5.0, 6.0), False)],
)
def test_a_speed_up_inside_the_spread_is_said_to_be_noise(dense, ours, noise):
    """A ratio of medians whose p10-p90 spreads overlap is no measured difference, and says so."""
    from secateurs.report.cost import latency_blocks, latency_stat

    def t(p10, median, p90):
        return {"median_ms": median, "p10_ms": p10, "p90_ms": p90, "runs": 30}

    lat = {
        "batches": [32], "denominator": "dense original", "provider": "CPUExecutionProvider",
        "threads": 2, "warmup": 5, "runs": 30, "order": "interleaved",
        "artifacts": {"dense original": {"32": t(*dense)}, "model.onnx": {"32": t(*ours)}},
    }  # fmt: skip
    stat = latency_stat(lat)
    assert stat.value.startswith(f"{dense[1] / ours[1]:.2f}x faster than dense")
    assert ("within the noise" in stat.value) == noise
    row = latency_blocks(lat)[0].rows[1]
    assert ("within the noise" in row[-1].text) == noise


def test_a_dense_original_that_cannot_be_rebuilt_is_said_in_the_summary(tmp_path, monkeypatch, cli):
    """The artifacts stand (exit 0), but the summary's compute line says NOT MEASURED and why."""
    from secateurs.errors import InputError
    from secateurs.pipeline import cost

    def fail(ctx, path):
        raise InputError("w.pt: file not found")

    monkeypatch.setattr(cost, "export_dense_original", fail)
    result = cli("run", "tests.models:residual", "--structure", "channels", "--formats", "onnx", "--out", "o")
    assert result.exit_code == 0, result.output
    summary = result.output.split("== Summary ==")[1].split("==")[0]
    assert "compute (MACs):" in summary and "NOT MEASURED" in summary
    assert "the dense original could not be exported: w.pt: file not found" in summary
