"""secateurs sweep and the --auto bisection.

The bisection and the sweep loop are checked against stub tuners whose accuracy drop is a
known function of the amount (tests/tuning_stubs.py); the real Tuner and the command each
run once end to end on builtin:lenet with builtin:digits.
"""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from secateurs.commands.sweep import sweep
from secateurs.errors import UsageError
from secateurs.evaluation import judge
from secateurs.tuning import sweep as tuning
from secateurs.tuning.sweep import auto_amount
from secateurs.tuning.tuner import Tuner, within_budget
from tests.tuning_stubs import StubTuner


def test_sweep_writes_json_table_and_plot(tmp_path):
    out = tmp_path / "sweep"
    result = CliRunner().invoke(
        sweep,
        [
            "builtin:lenet",
            "--eval",
            "builtin:digits",
            "--amounts",
            "0.5,0.1,0.9",
            "--max-accuracy-drop",
            "0.01",
            "--exporter",
            "torchscript",
        ]
        + ["--out", str(out)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "model.onnx.spz" in result.output and "artifact sizes in KiB" in result.output
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
    # model.onnx exported at the first amount, rendered from one dense export at the others
    assert [r["model_onnx"] for r in rows] == ["exported", "rendered", "rendered"] and doc["notes"] == []
    # builtin:lenet on the digits split: no drop up to 0.7, 4.4 points at 0.9
    assert rows[0]["within_budget"] and rows[1]["within_budget"] and not rows[2]["within_budget"]
    assert doc["largest_amount_within_budget"] == 0.5
    assert result.stdout.splitlines()[-1].startswith(
        f"DONE | {out} | largest amount within the budget 0.5 (of 3) | "
    )
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| amount |" in (out / "sweep.md").read_text()
    page = (out / "report.html").read_text()
    assert "data:image/png;base64," in page and "model.onnx.spz" in page and "http" not in page


@pytest.mark.parametrize("amounts", ["0.1,1.5", "0.1,nan", "x"])
def test_bad_amounts_are_usage_errors(tmp_path, amounts):
    result = CliRunner().invoke(
        sweep,
        ["builtin:lenet", "--eval", "builtin:digits", "--amounts", amounts, "--out", str(tmp_path / "o")],
    )
    assert result.exit_code == 2
    assert "not a number in [0, 1]" in result.output
    assert not (tmp_path / "o").exists()


def grid_answer(ok, steps: int) -> float:
    """The largest k/steps with ok(k/steps), by scanning the whole grid (0 is always ok)."""
    return max([0] + [k for k in range(1, steps + 1) if ok(round(k / steps, 10))]) / steps


@pytest.mark.parametrize("resolution", [0.01, 0.05, 0.1, 0.25, 1.0])
@pytest.mark.parametrize("budget", [0.0, 1e-4, 0.0025, 0.01, 0.0101, 0.2, 0.5, 0.99, 1.0])
def test_auto_amount_bisection_finds_the_largest_grid_amount_within_budget(budget, resolution):
    """drop = amount**2: the answer is the largest grid amount with amount**2 <= budget."""
    stub = StubTuner(drop=lambda a: a**2)
    amount, probes = auto_amount(stub, [("accuracy", budget)], resolution=resolution)
    steps = round(1 / resolution)
    assert amount == grid_answer(lambda a: a**2 <= budget + 1e-12, steps)
    assert [p["amount"] for p in probes] == stub.calls  # every probe is an evaluation, in order
    for p in probes:
        assert p["within_budget"] == (p["amount"] ** 2 <= budget + 1e-12)
    assert len(probes) <= 1 + math.ceil(math.log2(steps))  # bisection, not a scan
    assert len(probes) < steps or steps <= 2
    if amount < 1.0:  # the next grid step up was probed and is over budget
        above = [p for p in probes if p["amount"] == pytest.approx(amount + resolution)]
        assert above and not above[0]["within_budget"]
    else:
        assert len(probes) == 1 and probes[0]["amount"] == 1.0  # 1.0 is tried first
    if amount > 0.0:  # the chosen amount itself was probed and is within budget
        assert any(p["amount"] == pytest.approx(amount) and p["within_budget"] for p in probes)


@pytest.mark.parametrize("min_agreement", [0.0, 0.5, 0.9, 0.99, 0.999, 1.0])
def test_auto_amount_min_agreement_on_an_unlabelled_stub(min_agreement):
    stub = StubTuner(agreement=lambda a: 1.0 - a**3, labelled=False)
    amount, probes = auto_amount(stub, [("agreement", 1.0 - min_agreement)], resolution=0.01)
    assert amount == grid_answer(lambda a: 1.0 - a**3 >= min_agreement, 100)
    assert len(probes) <= 8
    assert all(p["within_budget"] == (1.0 - p["amount"] ** 3 >= min_agreement) for p in probes)


def test_auto_amount_with_both_budgets_honours_the_stricter():
    # accuracy allows up to 0.3 (0.09 <= 0.09); agreement 1 - a allows up to 0.2
    stub = StubTuner(drop=lambda a: a**2, agreement=lambda a: 1.0 - a)
    assert auto_amount(stub, [("accuracy", 0.09), ("agreement", 0.2)])[0] == 0.2
    assert auto_amount(StubTuner(drop=lambda a: a**2), [("accuracy", 0.09), ("agreement", 0.5)])[0] == 0.3


def test_auto_amount_needs_a_budget_and_a_sane_resolution():
    stub = StubTuner()
    with pytest.raises(UsageError, match="budget"):
        auto_amount(stub, [])
    for resolution in (0.3, 0.03, 0.0, -0.1, 1.5, float("nan"), float("inf")):
        with pytest.raises(UsageError, match="resolution"):
            auto_amount(stub, [("agreement", 0.1)], resolution=resolution)
    with pytest.raises(UsageError, match="labelled"):
        auto_amount(StubTuner(labelled=False), [("accuracy", 0.01)])
    assert stub.calls == []  # refused before any evaluation


def test_sweep_rows_follow_the_amounts_and_sizes_are_optional():
    stub = StubTuner(drop=lambda a: a / 2)
    ticks = []
    rows = tuning.sweep(stub, [0.5, 0.1, 0.9], sizes=True, advance=ticks.append)
    assert [r["amount"] for r in rows] == [0.5, 0.1, 0.9]
    assert ticks == ["amount 0.5", "amount 0.1", "amount 0.9"]
    assert [r["deltas"]["accuracy"] for r in rows] == [-0.25, -0.05, -0.45]
    assert [r["sizes"]["model.onnx.spz"] for r in rows] == [510, 910, 110]
    assert all(r["model_onnx"] == "exported" for r in rows)
    assert stub.sized == [0.5, 0.1, 0.9] and all(r["seconds"] >= 0 for r in rows)
    stub = StubTuner()
    rows = tuning.sweep(stub, [0.2], sizes=False)
    assert "sizes" not in rows[0] and stub.sized == []


@pytest.mark.parametrize(
    "row, drop, agree, ok",
    [
        ({"deltas": {"accuracy": -0.01}, "metrics": {"top1_agreement": 0.95}}, 0.01, None, True),
        ({"deltas": {"accuracy": -0.0100001}, "metrics": {}}, 0.01, None, False),
        ({"deltas": {"accuracy": 0.02}, "metrics": {}}, 0.0, None, True),
        ({"deltas": {}, "metrics": {"top1_agreement": 0.9}}, None, 0.9, True),
        ({"deltas": {}, "metrics": {"top1_agreement": 0.89}}, None, 0.9, False),
        ({"deltas": {}, "metrics": {}}, None, 0.9, False),  # no agreement measured: not within
        ({"deltas": {"accuracy": 0.0}, "metrics": {"top1_agreement": 0.5}}, 0.01, 0.9, False),
    ],
)
def test_within_budget(row, drop, agree, ok):
    budgets = ([] if drop is None else [("accuracy", drop)]) + (
        [] if agree is None else [("agreement", 1 - agree)]
    )
    assert within_budget(row, budgets) is ok


def test_agreement_budget_without_labels():
    t = Tuner("builtin:lenet", "random:64")
    with pytest.raises(UsageError, match="labelled"):
        auto_amount(t, [("accuracy", 0.01)])
    amount, _ = auto_amount(t, [("agreement", 0.1)], resolution=0.1)
    assert t.evaluate(amount)["metrics"]["top1_agreement"] >= 0.9
    assert amount == 1.0 or t.evaluate(round(amount + 0.1, 10))["metrics"]["top1_agreement"] < 0.9


def test_dense_outputs_computed_once(monkeypatch):
    calls = []
    real = judge.torch_scores

    def counting(model, inputs, progress=None):
        calls.append(1)
        return real(model, inputs, progress)

    monkeypatch.setattr(judge, "torch_scores", counting)
    t = Tuner("builtin:lenet", "builtin:digits", exporter="torchscript")
    assert len(calls) == 1
    first = t.evaluate(0.3)
    t.evaluate(0.6)
    again = t.evaluate(0.3)  # cached: no new forward pass
    assert len(calls) == 3
    assert again == first
    t.artifact_sizes(0.3)  # restores the dense weights before pruning again
    assert t.evaluate(0.0)["metrics"]["top1_agreement"] == 1.0


def test_a_sweep_that_fails_while_writing_leaves_the_previous_output(tmp_path, monkeypatch):
    """sweep (like sensitivity) writes into a staging directory and swaps it in at the end."""
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "sweep.json").write_text("previous good output")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("secateurs.tuning.sweep.plot_sweep", disk_full)
    args = ["builtin:lenet", "--eval", "random:8", "--amounts", "0.5", "--exporter", "torchscript"]
    with pytest.raises(OSError):
        CliRunner().invoke(sweep, [*args, "--out", str(out)], catch_exceptions=False)
    assert (out / "sweep.json").read_text() == "previous good output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep"]  # no staging left behind


def test_a_size_only_sweep_needs_no_data_and_reports_one_line_per_amount(tmp_path):
    """Without --eval: sparsity and sizes only. Off a terminal (CliRunner's stderr is not one)
    every finished amount prints a line, so a CI job that watches for silence sees progress."""
    out = tmp_path / "sizes"
    args = ["tests.models:residual", "--amounts", "0.5,0.9", "--exporter", "torchscript", "--out", str(out)]
    result = CliRunner().invoke(sweep, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["eval"] is None and doc["dense"] == {} and doc["exporter"] == "torchscript"
    assert [r["metrics"] for r in doc["rows"]] == [{}, {}]
    assert doc["rows"][0]["sizes"]["model.onnx.spz"] > doc["rows"][1]["sizes"]["model.onnx.spz"]
    lines = [line for line in result.stderr.splitlines() if "sweep " in line and "/2" in line]
    assert [line.split("(")[0].strip() for line in lines] == [
        "secateurs: sweep 1/2 amount 0.5",
        "secateurs: sweep 2/2 amount 0.9",
    ]
    quiet = CliRunner().invoke(sweep, [*args[:-1], str(tmp_path / "q"), "-q"], catch_exceptions=False)
    assert quiet.exit_code == 0 and "sweep 1/2" not in quiet.stderr and "| amount |" not in quiet.stdout
    assert quiet.stdout.startswith(f"DONE | {tmp_path / 'q'} | 2 amounts, no budget given | ")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--max-accuracy-drop", "0.01"], "--max-accuracy-drop needs --eval DATA"),
        (["--eval", "random:8", "--max-accuracy-drop", "0.01"], "needs labelled data"),
        (["--eval", "builtin:digits", "--min-agreement", "1.5"], "--min-agreement must be a finite number"),
    ],
)
def test_sweep_budgets_are_checked(cli, tmp_path, extra, message):
    result = cli("sweep", "builtin:lenet", "--amounts", "0.5", "--out", "o", *extra)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (tmp_path / "o").exists()
