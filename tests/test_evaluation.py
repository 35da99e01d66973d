"""Task evaluation and the accuracy gate: dense vs pruned, judged on what ships."""

import json

import numpy as np
import pytest

from secateurs.evaluation import metrics
from tests.models import TORCHSCRIPT


def test_classification_metrics_by_hand():
    labels = np.array([0, 0, 1, 1, 2])
    scores = np.eye(3)[[0, 1, 1, 1, 0]]  # predictions 0,1,1,1,0
    m = metrics.classification(scores, labels, 3)
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    pc = {c["class"]: c for c in m["per_class"]}
    assert pc[1]["precision"] == pytest.approx(2 / 3) and pc[1]["recall"] == 1.0
    assert pc[2]["recall"] == 0.0 and pc[2]["precision"] == 0.0
    assert m["macro_recall"] == pytest.approx((0.5 + 1 + 0) / 3)


def test_agreement_metrics():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((50, 10))
    same = metrics.agreement(ref, ref)
    assert same["top1_agreement"] == 1.0 and same["top5_agreement"] == 1.0
    assert same["cosine"] == pytest.approx(1.0) and same["snr_db"] == float("inf")
    noisy = metrics.agreement(ref, ref + 0.1 * rng.standard_normal(ref.shape))
    assert 15 < noisy["snr_db"] < 25  # noise power 1% of signal: 20 dB
    flipped = metrics.agreement(ref, -ref)
    assert flipped["cosine"] == pytest.approx(-1.0) and flipped["top1_agreement"] == 0.0


def test_compare_reports_deltas_and_most_hurt_class():
    labels = np.array([0, 1, 2, 2])
    dense = np.eye(3)[[0, 1, 2, 2]]
    pruned = np.eye(3)[[0, 1, 1, 2]]
    r = metrics.compare(dense, pruned, labels)
    assert r["delta"]["accuracy"] == pytest.approx(-0.25)
    assert r["classes_most_hurt"][0]["class"] == 2


def report_of(path):
    return json.loads((path / "report.json").read_text())


def test_digits_evaluation_in_the_pipeline(resnet_digits):
    out = resnet_digits  # run at --amount 0.1 with --max-accuracy-drop 0.5 (tests/conftest.py)
    ev = report_of(out)["evaluation"]
    assert ev["samples"] == 360 and ev["labels"]
    for judged in ("pytorch", "onnx"):
        r = ev["results"][judged]
        assert r["dense"]["accuracy"] > 0.98  # the held-out accuracy in the README
        assert abs(r["delta"]["accuracy"]) < 0.02
        assert len(r["pruned"]["per_class"]) == 10
    assert all(g["passed"] for g in ev["gates"]) and ev["gates"]
    assert "Task evaluation" in (out / "report.md").read_text()


def test_gate_failure_is_exit_6_and_keeps_previous_output(cli, tmp_path):
    # builtin:lenet loses 4.4 points of digits accuracy at 0.9 (none up to 0.7)
    assert cli("run", "builtin:lenet", "--amount", "0.1", *TORCHSCRIPT, "--out", "o", "-q").exit_code == 0
    before = (tmp_path / "o/manifest.json").read_text()
    result = cli(
        "run",
        "builtin:lenet",
        "--amount",
        "0.9",
        "--eval",
        "builtin:digits",
        "--max-accuracy-drop",
        "0.01",
        "--out",
        "o",
    )
    assert result.exit_code == 6, result.output
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(
        "secateurs: error: accuracy gate failed: accuracy drop 0.0444 exceeds the budget 0.01"
    )
    assert error.count("exceeds the budget") == 1 and "(pytorch, onnx)" in error  # one per distinct failure
    lines = result.stdout.strip().splitlines()
    assert lines[:2] == [
        "FAIL  gate  pytorch  accuracy drop 0.0444 exceeds the budget 0.01 by 0.0344",
        "FAIL  gate  onnx     accuracy drop 0.0444 exceeds the budget 0.01 by 0.0344",
    ]
    assert lines[-1].startswith(
        "FAILED (accuracy gate) | o.failed | 2 of 2 gates broken | not for deploying;"
    )
    assert (tmp_path / "o/manifest.json").read_text() == before
    failed = report_of(tmp_path / "o.failed")
    assert failed["status"] == "gate-failed"
    assert not all(g["passed"] for g in failed["evaluation"]["gates"])


def test_label_free_evaluation_and_agreement_gate(cli, tmp_path):
    result = cli(
        "run",
        "tests.models:residual",
        "--amount",
        "0.2",
        "--eval",
        "random:40",
        "--min-agreement",
        "0.5",
        *TORCHSCRIPT,
        "--out",
        "o",
        "-q",
    )
    assert result.exit_code == 0, result.output
    ev = report_of(tmp_path / "o")["evaluation"]
    assert not ev["labels"] and "dense" not in ev["results"]["onnx"]
    assert {"cosine", "snr_db", "top1_agreement", "top5_agreement"} <= set(ev["results"]["onnx"]["agreement"])
    assert all(g["passed"] for g in ev["gates"])


def test_npz_data(cli, tmp_path):
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "d.npz",
        inputs=rng.standard_normal((20, 3, 8, 8)).astype(np.float32),
        labels=rng.integers(0, 5, 20),
    )
    result = cli("run", "tests.models:residual", "--eval", "d.npz", *TORCHSCRIPT, "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    assert report_of(tmp_path / "o")["evaluation"]["labels"]


@pytest.mark.parametrize(
    ("make", "code", "message"),
    [
        (lambda p: np.savez(p, inputs=np.zeros((4, 3, 9, 9), np.float32)), 3, "do not match the model input"),
        (lambda p: np.savez(p, x=np.zeros((4, 3, 8, 8), np.float32)), 3, "no 'inputs'"),
        (lambda p: np.savez(p, inputs=np.array([object()] * 4, dtype=object)), 3, "d.npz"),
        (lambda p: p.write_bytes(b"not a zip"), 3, "d.npz"),
        (
            lambda p: np.savez(p, inputs=np.zeros((4, 3, 8, 8), np.float32), labels=np.zeros(3, np.int64)),
            3,
            "'labels'",
        ),
    ],
)
def test_bad_npz_data(cli, tmp_path, make, code, message):
    make(tmp_path / "d.npz")
    result = cli("run", "tests.models:residual", "--eval", "d.npz", "--out", "o")
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-agreement", "0.9"], "needs --eval"),
        (["--eval", "random:10", "--max-accuracy-drop", "0.01"], "needs labelled data"),
        (["--eval", "random:0"], "random:N"),
        (["--eval", "builtin:imagenet"], "builtin:digits"),
        (["--eval", "random:10", "--min-agreement", "1.5"], "[0, 1]"),
    ],
)
def test_eval_usage_errors(cli, tmp_path, args, message):
    result = cli("run", "tests.models:residual", *args, "--out", "o")
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_run_auto_chooses_the_amount_and_says_so(cli, tmp_path, monkeypatch):
    from secateurs.tuning import sweep

    answers = []  # what the bisection returned inside the run (its search: tests/test_sweep.py)
    bisect = sweep.auto_amount

    def recorded(*args, **kwargs):
        answers.append(bisect(*args, **kwargs))
        return answers[-1]

    monkeypatch.setattr(sweep, "auto_amount", recorded)
    result = cli(
        "run",
        "builtin:lenet",
        "--auto",
        "--eval",
        "builtin:digits",
        "--max-accuracy-drop",
        "0.01",
        "--out",
        "o",
        "-q",
    )
    assert result.exit_code == 0, result.output
    report = report_of(tmp_path / "o")
    # builtin:lenet on the digits split: no drop up to 0.7, 4.4 points at 0.9
    assert 0.7 <= report["config"]["amount"] < 0.9
    ((expected, probes),) = answers
    assert report["config"]["amount"] == expected  # the bisection's answer, run as given
    said = f"--auto chose amount {expected}: largest within the budget, {len(probes)} probes"
    assert any(n.startswith(said) for n in report["model"]["notes"])
    assert all(g["passed"] for g in report["evaluation"]["gates"])
    assert (
        cli(
            "run",
            "builtin:lenet",
            "--auto",
            "--amount",
            "0.2",
            "--eval",
            "builtin:digits",
            "--max-accuracy-drop",
            "0.01",
        ).exit_code
        == 2
    )
    assert cli("run", "builtin:lenet", "--auto", "--eval", "builtin:digits").exit_code == 2


def test_an_unpruned_model_reports_an_infinite_snr(cli, tmp_path):
    """At amount 0 the pruned outputs equal the dense ones: SNR is infinite, stored as "inf"."""
    args = ("run", "builtin:lenet", "--amount", "0", "--eval", "random:4", "--exporter", "torchscript")
    result = cli(*args, "--formats", "onnx", "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o/report.json").read_text())
    assert report["evaluation"]["results"]["pytorch"]["agreement"]["snr_db"] == "inf"
    assert "| inf |" in (tmp_path / "o/report.md").read_text()
    from secateurs.report import render_html

    assert ">inf<" in render_html(report)


def test_a_program_fixed_at_batch_1_is_evaluated_one_input_at_a_time():
    """A model that fails on a batch of several inputs but runs one (torch.export at batch 1)
    is then run per input; one that fails on one input too is an InputError naming the shape."""
    import numpy as np
    import pytest

    from secateurs.errors import InputError
    from secateurs.evaluation.judge import per_sample_if_fixed

    calls = []

    def fixed(x):
        calls.append(len(x))
        if len(x) != 1:
            raise AssertionError("Guard failed: x.size()[0] == 1")
        return x * 2

    run = per_sample_if_fixed(fixed, "m.pt2")
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_array_equal(run(x), x * 2)
    np.testing.assert_array_equal(run(x[:2]), x[:2] * 2)
    assert calls == [3, 1, 1, 1, 1, 1]  # tried the batch once, then one at a time

    def broken(x):
        raise RuntimeError("shape mismatch\nlast line")

    with pytest.raises(InputError, match=r"m.pt2 failed on a batch of shape \[3, 2\] and on one input"):
        per_sample_if_fixed(broken, "m.pt2")(x)


def test_run_evaluates_a_program_exported_at_batch_1(tmp_path, cli):
    import torch

    from tests.models import plain

    torch.export.save(torch.export.export(plain().eval(), (torch.randn(1, 3, 12, 12),)), tmp_path / "b1.pt2")
    result = cli(
        "run", "b1.pt2", "--eval", "random:8", "--formats", "onnx", "--latency-runs", "0", "--out", "o", "-q"
    )
    assert result.exit_code == 0, result.output
    assert "evaluation" in (tmp_path / "o/report.json").read_text()
