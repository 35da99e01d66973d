"""secateurs sweep and the --auto bisection, on builtin:resnet with builtin:digits."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from secateurs.commands.sweep import sweep
from secateurs.errors import UsageError
from secateurs.evaluation import judge
from secateurs.tuning.sweep import Tuner, auto_amount


@pytest.fixture(scope="module")
def tuner():
    return Tuner("builtin:resnet", "builtin:digits")


def test_sweep_writes_json_table_and_plot(tmp_path):
    out = tmp_path / "sweep"
    result = CliRunner().invoke(
        sweep,
        [
            "builtin:resnet",
            "--eval",
            "builtin:digits",
            "--amounts",
            "0.5,0.1,0.9",
            "--max-accuracy-drop",
            "0.01",
        ]
        + ["--out", str(out)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "model.onnx.spz KiB" in result.output
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["schema"] == "secateurs.sweep/1"
    rows = doc["rows"]
    assert [r["amount"] for r in rows] == [0.1, 0.5, 0.9]
    sparsity = [r["sparsity"] for r in rows]
    assert sparsity == sorted(sparsity) and abs(sparsity[0] - 0.1) < 0.01
    assert abs(rows[0]["metrics"]["accuracy"] - doc["dense"]["accuracy"]) <= 0.02
    assert rows[0]["deltas"]["accuracy"] == pytest.approx(
        rows[0]["metrics"]["accuracy"] - doc["dense"]["accuracy"]
    )
    spz = [r["sizes"]["model.onnx.spz"] for r in rows]
    assert spz[0] > spz[1] > spz[2]
    assert rows[0]["within_budget"] and not rows[2]["within_budget"]
    assert doc["largest_amount_within_budget"] == 0.1
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| amount |" in (out / "sweep.md").read_text()
    page = (out / "report.html").read_text()
    assert "data:image/png;base64," in page and "model.onnx.spz" in page and "http" not in page


@pytest.mark.parametrize("amounts", ["0.1,1.5", "0.1,nan", "x"])
def test_bad_amounts_are_usage_errors(tmp_path, amounts):
    result = CliRunner().invoke(
        sweep,
        ["builtin:resnet", "--eval", "builtin:digits", "--amounts", amounts, "--out", str(tmp_path / "o")],
    )
    assert result.exit_code == 2
    assert "not a number in [0, 1]" in result.output
    assert not (tmp_path / "o").exists()


def test_auto_amount_is_largest_within_budget(tuner):
    amount, probes = auto_amount(tuner, max_accuracy_drop=0.01, resolution=0.01)
    assert 0 < amount < 1
    chosen = tuner.evaluate(amount)
    assert -chosen["deltas"]["accuracy"] <= 0.01
    above = tuner.evaluate(round(amount + 0.01, 10))
    assert -above["deltas"]["accuracy"] > 0.01
    assert len(probes) <= 8  # bisection over 100 steps, not a scan
    assert any(p["amount"] == pytest.approx(amount + 0.01) and not p["within_budget"] for p in probes)


def test_auto_amount_needs_a_budget_and_a_sane_resolution(tuner):
    with pytest.raises(UsageError, match="budget"):
        auto_amount(tuner)
    with pytest.raises(UsageError, match="resolution"):
        auto_amount(tuner, min_agreement=0.9, resolution=0.3)


def test_agreement_budget_without_labels():
    t = Tuner("builtin:lenet", "random:64")
    with pytest.raises(UsageError, match="labelled"):
        auto_amount(t, max_accuracy_drop=0.01)
    amount, _ = auto_amount(t, min_agreement=0.9, resolution=0.1)
    assert t.evaluate(amount)["metrics"]["top1_agreement"] >= 0.9
    assert amount == 1.0 or t.evaluate(round(amount + 0.1, 10))["metrics"]["top1_agreement"] < 0.9


def test_dense_outputs_computed_once(monkeypatch):
    calls = []
    real = judge.torch_scores

    def counting(model, inputs, progress=None):
        calls.append(1)
        return real(model, inputs, progress)

    monkeypatch.setattr(judge, "torch_scores", counting)
    t = Tuner("builtin:lenet", "builtin:digits")
    assert len(calls) == 1
    first = t.evaluate(0.3)
    t.evaluate(0.6)
    again = t.evaluate(0.3)  # cached: no new forward pass
    assert len(calls) == 3
    assert again == first
    t.artifact_sizes(0.3)  # restores the dense weights before pruning again
    assert t.evaluate(0.0)["metrics"]["top1_agreement"] == 1.0
