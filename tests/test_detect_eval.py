"""Detector evaluation through `secateurs run`: --task, --box-format, --max-drop, labelled and label-free."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from secateurs.config import eval_task, parse_max_drop
from secateurs.errors import UsageError
from tests.models import TORCHSCRIPT

FAST = (*TORCHSCRIPT, "--formats", "onnx", "-q")


def report_of(out) -> dict:
    return json.loads((out / "report.json").read_text())


@pytest.mark.parametrize(
    ("spec", "task", "want"),
    [
        ("builtin:shapes", None, "detect"),
        ("builtin:digits", None, "classify"),
        ("random:4", None, "classify"),
        ("random:4", "detect", "detect"),
        ("data.yaml", None, "detect"),
        ("instances_val.json", None, "detect"),
        ("x.npz", None, "classify"),
    ],
)
def test_the_task_comes_from_the_data_or_task(spec, task, want):
    assert eval_task(spec, task) == want


def test_a_folder_of_images_needs_task_detect(tmp_path):
    with pytest.raises(UsageError, match="--task detect"):
        eval_task(str(tmp_path), None)
    assert eval_task(str(tmp_path), "detect") == "detect"
    with pytest.raises(UsageError, match="--task classify but --eval builtin:shapes is detect data"):
        eval_task("builtin:shapes", "classify")


def test_max_drop_parses_metric_value_pairs():
    assert parse_max_drop(("mAP50=0.01", "recall=0.02")) == (("mAP50", 0.01), ("recall", 0.02))
    for bad in ("mAP50", "mAP50=", "=0.1", "mAP50=one"):
        with pytest.raises(UsageError, match="METRIC=VALUE"):
            parse_max_drop((bad,))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--eval", "builtin:shapes", "--max-drop", "accuracy=0.1"),
            "a detect evaluation gates on precision",
        ),
        (("--eval", "builtin:shapes", "--max-drop", "mAP50=2"), "--max-drop mAP50 must be a finite number"),
        (("--eval", "builtin:shapes", "--max-drop", "mAP50=0.1", "--max-drop", "mAP50=0.2"), "given twice"),
        (("--eval", "builtin:shapes", "--max-accuracy-drop", "0.01"), "use --max-drop mAP50=VALUE"),
        (("--eval", "builtin:shapes", "--min-agreement", "0.9"), "use --max-drop mAP50=VALUE"),
        (("--eval", "builtin:digits", "--box-format", "yolov5"), "--box-format decodes detector outputs"),
        (("--max-drop", "mAP50=0.1"), "--max-drop needs --eval DATA"),
        (("--task", "detect"), "--task needs --eval DATA"),
        (("--eval", "builtin:digits", "--max-drop", "mAP50=0.1"), "a classify evaluation gates on accuracy"),
    ],
)
def test_task_options_are_checked_before_the_model_loads(cli, tmp_path, args, message):
    result = cli("run", "tests.models:yolov5_style", *args, "--out", "o")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (tmp_path / "o").exists()


def yolo_dataset(root, sizes=((48, 40), (40, 48), (32, 32))):
    """A YOLO-format dataset (data.yaml, images/val, labels/val) with one box per image."""
    (root / "images/val").mkdir(parents=True)
    (root / "labels/val").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, (w, h) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / f"images/val/{i}.png")
        (root / f"labels/val/{i}.txt").write_text(f"{i % 2} 0.5 0.5 0.4 0.3\n")
    (root / "data.yaml").write_text("path: .\nval: images/val\nnames:\n  0: ring\n  1: box\n")
    return root / "data.yaml"


def test_labelled_detection_data_gives_map_for_dense_and_pruned(cli, tmp_path):
    data = yolo_dataset(tmp_path / "ds")
    result = cli(
        "run", "tests.models:yolov5_style", "--eval", data, "--max-drop", "mAP50=1", *FAST, "--out", "o"
    )
    assert result.exit_code == 0, result.output
    ev = report_of(tmp_path / "o")["evaluation"]
    assert ev["task"] == "detect" and ev["labels"] and ev["samples"] == 3
    assert ev["nms"] == {"conf": 0.001, "iou": 0.7, "max_det": 300}
    assert set(ev["results"]) == {"pytorch", "onnx"}
    for r in ev["results"].values():
        for m in ("precision", "recall", "mAP50", "mAP50-95"):
            assert 0.0 <= r["dense"][m] <= 1.0 and 0.0 <= r["pruned"][m] <= 1.0
            assert r["drop"][m] == pytest.approx(r["dense"][m] - r["pruned"][m])
        assert set(r["dense"]["per_class_ap"]) == {"ring", "box"}
    torch_m, onnx_m = ev["results"]["pytorch"]["pruned"], ev["results"]["onnx"]["pruned"]
    assert abs(torch_m["mAP50-95"] - onnx_m["mAP50-95"]) <= 1e-3
    assert [g["metric"] for g in ev["gates"]] == ["mAP50 drop", "mAP50 drop"]
    assert all(g["passed"] for g in ev["gates"])
    md = (tmp_path / "o/report.md").read_text()
    assert "| dense pytorch |" in md and "| ring |" in md and "IoU 0.7" in md
    assert "AP50 pruned onnx" in md and "\n\ngate PASS (pytorch)" in md  # not a table row in markdown


def test_label_free_agreement_passes_unpruned_and_fails_when_pruning_moves_boxes(cli, tmp_path):
    """At amount 0 the pruned model is the dense one, so it agrees with itself: every drop is 0."""
    label_free = ("run", "tests.models:pixel_detector", "--eval", "random:3", "--task", "detect", *FAST)
    ok = cli(*label_free, "--amount", "0", "--max-drop", "mAP50=0", "--max-drop", "recall=0", "--out", "same")
    assert ok.exit_code == 0, ok.output
    ev = report_of(tmp_path / "same")["evaluation"]
    assert not ev["labels"] and "dense model's detections scoring >= 0.25" in ev["reference"]
    for r in ev["results"].values():
        assert r["agreement"]["mAP50"] == pytest.approx(1.0) and r["drop"]["mAP50"] == pytest.approx(0.0)
    bad = cli(*label_free, "--amount", "0.9", "--max-drop", "mAP50=0", "--out", "moved")
    assert bad.exit_code == 6, bad.output
    assert "mAP50 drop" in bad.stderr and "exceeds the budget 0" in bad.stderr
    assert not (tmp_path / "moved").exists() and (tmp_path / "moved.failed/report.json").is_file()


def test_a_yolov8_layout_and_a_label_free_image_folder(cli, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(folder / f"{i}.jpg")
    result = cli(
        "run", "tests.models:ultralytics_style", "--eval", folder, "--task", "detect", *FAST, "--out", "o"
    )
    assert result.exit_code == 0, result.output
    ev = report_of(tmp_path / "o")["evaluation"]
    assert ev["samples"] == 2 and not ev["labels"]
    assert set(ev["results"]["onnx"]["agreement"]) >= {"precision", "recall", "mAP50", "mAP50-95"}


def test_an_untrained_detector_scores_zero_on_labels_and_its_gate_passes(cli, tmp_path):
    """Randomly initialised YOLOv5/YOLOv8/YOLO11 heads score every box far below the NMS confidence
    (benchmarks/REAL_DETECTORS.md): no detections gives zeros for dense and pruned, drop 0."""
    data = yolo_dataset(tmp_path / "ds")
    result = cli(
        "run",
        "tests.models:untrained_detector",
        "--eval",
        data,
        "--max-drop",
        "mAP50=0.01",
        *FAST,
        "--out",
        "o",
    )
    assert result.exit_code == 0, result.output
    ev = report_of(tmp_path / "o")["evaluation"]
    for r in ev["results"].values():
        for m in ("precision", "recall", "mAP50", "mAP50-95"):
            assert r["dense"][m] == 0.0 == r["pruned"][m] and r["drop"][m] == 0.0
    assert [g["passed"] for g in ev["gates"]] == [True, True]


def test_label_free_data_an_untrained_detector_finds_nothing_in_stops_before_pruning(
    cli, tmp_path, monkeypatch
):
    """No dense detection scoring >= 0.25 leaves label-free evaluation without a reference: refused
    at the reference stage, before pruning, export and validation spend their time."""
    from secateurs.pipeline import runner

    def never(ctx):
        raise AssertionError("pruning ran")

    monkeypatch.setitem(runner.STAGES, "prune", runner.Stage(never, ("model", "info"), ("layers",)))
    result = cli(
        "run",
        "tests.models:untrained_detector",
        "--eval",
        "random:3",
        "--task",
        "detect",
        *FAST,
        "--out",
        "o",
    )
    assert result.exit_code == 3, result.output
    assert "random:3: the dense model detects nothing scoring >= 0.25 in 3 images" in result.stderr
    assert "label-free evaluation needs a model that detects (trained weights)" in result.stderr
    assert not (tmp_path / "o").exists()


def test_task_classify_on_a_folder_is_refused(cli, tmp_path):
    result = cli("run", "tests.models:plain", "--eval", tmp_path, "--task", "classify", "--out", "o")
    assert (
        result.exit_code == 2 and "classification reads builtin:digits, random:N or a .npz" in result.stderr
    )


def test_a_box_format_that_does_not_fit_is_a_usage_error(cli, tmp_path):
    data = yolo_dataset(tmp_path / "ds")  # two classes: (B, 20, 7) is the YOLOv5 layout only
    result = cli(
        "run", "tests.models:pixel_detector", "--eval", data, "--box-format", "yolov8", *FAST, "--out", "o"
    )
    assert result.exit_code == 2, result.output
    assert "--box-format yolov8 does not fit the output (B, 20, 7), which is yolov5-shaped" in result.stderr
    assert not (tmp_path / "o").exists()


def test_an_unpruned_model_passes_a_zero_budget_in_onnxruntime(cli, tmp_path):
    """onnxruntime moves a metric by ~1e-7; drops are rounded to 1e-6, so that is no drop."""
    data = yolo_dataset(tmp_path / "ds")
    result = cli(
        "run",
        "tests.models:pixel_detector",
        "--amount",
        "0",
        "--eval",
        data,
        *(a for m in ("precision", "recall", "mAP50", "mAP50-95") for a in ("--max-drop", f"{m}=0")),
        *FAST,
        "--out",
        "o",
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_random_data_on_a_detection_head_asks_for_the_task(cli, tmp_path, command):
    result = cli(command, "tests.models:yolov5_style", "--eval", "random:2", *TORCHSCRIPT, "--out", "o")
    assert result.exit_code == 2, result.output
    assert "a detection head's shape" in result.stderr and "--task detect" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o").exists()


@pytest.mark.parametrize("metric", ["precision", "recall", "mAP50", "mAP50-95"])
def test_each_detection_gate_passes_at_its_budget_and_fails_above_it(metric):
    """judge.gates on detection results: a drop equal to the budget passes, a larger one fails,
    on each judged model separately (the worse one decides the run)."""
    from types import SimpleNamespace

    from secateurs.evaluation.judge import gates, gates_passed

    cfg = SimpleNamespace(max_drop=((metric, 0.02),), max_accuracy_drop=None, min_agreement=None)
    others = {m: 0.0 for m in ("precision", "recall", "mAP50", "mAP50-95") if m != metric}
    results = {"pytorch": {"drop": {**others, metric: 0.02}}, "onnx": {"drop": {**others, metric: 0.0201}}}
    checks = gates(cfg, results)
    assert [(g["judged"], g["metric"], g["passed"]) for g in checks] == [
        ("pytorch", f"{metric} drop", True),
        ("onnx", f"{metric} drop", False),
    ]
    assert "exceeds the budget 0.02" in checks[1]["detail"]
    assert not gates_passed({"gates": checks})


def test_a_settings_file_gives_several_max_drop_gates_as_a_list(cli, tmp_path):
    (tmp_path / "secateurs.toml").write_text('[run]\nmax-drop = ["mAP50=1", "recall=1"]\n')
    args = (
        "run",
        "tests.models:pixel_detector",
        "--eval",
        "random:3",
        "--task",
        "detect",
        *FAST,
        "--out",
        "o",
    )
    result = cli(*args)
    assert result.exit_code == 0, result.output
    gates = report_of(tmp_path / "o")["evaluation"]["gates"]
    assert sorted({g["metric"] for g in gates}) == ["mAP50 drop", "recall drop"] and len(gates) == 4
