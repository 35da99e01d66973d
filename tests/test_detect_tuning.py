"""sweep, sensitivity and `run --auto` on a detector, judged by the --max-drop gate's metrics."""

from __future__ import annotations

import json

import pytest

from secateurs.tuning.tuner import Tuner, drop_of
from tests.models import TORCHSCRIPT
from tests.test_detect_eval import report_of, yolo_dataset

DETECTOR = "tests.models:pixel_detector"
LABEL_FREE = ("--eval", "random:4", "--task", "detect")
METRICS = ("precision", "recall", "mAP50", "mAP50-95")


def test_label_free_sweep_marks_the_amounts_within_the_map_budget(cli, tmp_path):
    result = cli(
        "sweep", DETECTOR, *LABEL_FREE, "--max-drop", "mAP50=0.05", "--amounts", "0,0.5,0.9", *TORCHSCRIPT
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "artifacts/tests.models.pixel_detector-sweep"
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["eval"] == {"data": "random:4", "samples": 4, "labels": False, "task": "detect"}
    assert doc["dense"] == {} and doc["budget"]["max_drop"] == {"mAP50": 0.05}
    rows = doc["rows"]
    assert set(rows[0]["metrics"]) == set(METRICS) and rows[0]["metrics"]["mAP50"] == pytest.approx(1.0)
    for r in rows:  # label-free: the metric is the agreement, its delta -(1 - agreement)
        for m in METRICS:
            assert r["deltas"][m] == pytest.approx(r["metrics"][m] - 1.0, abs=1e-6)
        assert r["within_budget"] == (-r["deltas"]["mAP50"] <= 0.05)
    assert rows[0]["within_budget"] and not rows[-1]["within_budget"]  # 0.9 moves the boxes
    within = [r["amount"] for r in rows if r["within_budget"]]
    assert doc["largest_amount_within_budget"] == max(within)
    assert "mAP50 vs dense boxes" in (out / "sweep.md").read_text()
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "mAP50 and mAP50-95" in (out / "report.html").read_text()


def test_labelled_sweep_reports_dense_map_and_deltas(cli, tmp_path):
    data = yolo_dataset(tmp_path / "ds")
    result = cli("sweep", DETECTOR, "--eval", data, "--amounts", "0.3", *TORCHSCRIPT, "--out", "s", "-q")
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "s/sweep.json").read_text())
    assert set(doc["dense"]) == set(METRICS) and doc["eval"]["labels"]
    row = doc["rows"][0]
    for m in METRICS:
        assert row["deltas"][m] == pytest.approx(row["metrics"][m] - doc["dense"][m], abs=1e-6)
    # the same numbers `run` reports for its pruned PyTorch model at that amount
    assert (
        cli("run", DETECTOR, "--eval", data, "--amount", "0.3", *TORCHSCRIPT, "-q", "--out", "r").exit_code
        == 0
    )
    ran = report_of(tmp_path / "r")["evaluation"]["results"]["pytorch"]
    assert {m: row["metrics"][m] for m in METRICS} == pytest.approx({m: ran["pruned"][m] for m in METRICS})
    assert doc["dense"] == pytest.approx({m: ran["dense"][m] for m in METRICS})


def test_sensitivity_recipe_on_a_detector_is_measured_within_the_map_budget(cli, tmp_path):
    result = cli(
        "sensitivity", DETECTOR, *LABEL_FREE, "--max-drop", "mAP50=0.1", "--amounts", "0.5,0.9", "--out", "s"
    )
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "s/sensitivity.json").read_text())
    assert data["metric"].startswith("mAP50 drop (1 - mAP50 against the dense model's detections")
    assert data["budget"] == 0.1 and data["budget_option"] == "--max-drop mAP50=0.1"
    assert len(data["drop"]) == len(data["layers"]) and all(len(row) == 2 for row in data["drop"])
    recipe = json.loads((tmp_path / "s/recipe.json").read_text())
    tuner = Tuner(DETECTOR, "random:4", task="detect")  # the recipe's drop, measured again here
    row = tuner.judge(0.0, tuner.prune_layers(recipe["layers"]))
    assert drop_of(row, "mAP50") == pytest.approx(data["recipe"]["drop"]) and data["recipe"]["drop"] <= 0.1
    assert data["uniform"]["drop"] <= 0.1


def test_run_auto_chooses_the_amount_by_map_and_rechecks_it_in_onnxruntime(cli, tmp_path):
    result = cli(
        "run", DETECTOR, "--auto", *LABEL_FREE, "--max-drop", "mAP50=0.05", *TORCHSCRIPT, "--out", "o"
    )
    assert result.exit_code == 0, result.output
    report = report_of(tmp_path / "o")
    chosen = report["config"]["amount"]
    assert any(f"--auto chose amount {chosen}" in n for n in report["model"]["notes"])
    gates = report["evaluation"]["gates"]
    assert {g["judged"] for g in gates} == {"pytorch", "onnx"} and all(g["passed"] for g in gates)
    tuner = Tuner(DETECTOR, "random:4", task="detect")
    if chosen < 1.0:  # the next step up breaks the budget
        assert drop_of(tuner.evaluate(round(chosen + 0.01, 10)), "mAP50") > 0.05


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("sensitivity", DETECTOR, *LABEL_FREE, "--max-drop", "mAP50=0.1", "--max-drop", "recall=0.1"),
            "one budget",
        ),
        (("sweep", DETECTOR, "--eval", "builtin:shapes", "--min-agreement", "0.9"), "use --max-drop mAP50"),
        (("sweep", DETECTOR, "--eval", "builtin:shapes", "--max-drop", "accuracy=0.1"), "gates on precision"),
        (("run", DETECTOR, "--auto", *LABEL_FREE), "--auto needs a budget: --max-drop"),
    ],
)
def test_tuning_budgets_that_cannot_judge_a_detector_are_refused_before_loading(cli, tmp_path, args, message):
    result = cli(*args, "--out", "o")
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()
