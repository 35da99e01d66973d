"""Detection evaluation pictures: eval_pr_curves.png and eval_boxes.png in the run directory,
listed in the manifest, named in report.json and embedded in report.html (never report.md)."""

from __future__ import annotations

import base64
import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from secateurs.evaluation import detection_pictures, detection_plots
from secateurs.evaluation.boxes import Boxes
from secateurs.evaluation.detection_data import load_detection_data
from secateurs.report import render_html
from tests.models import TORCHSCRIPT

FILES = (detection_plots.FILENAME, detection_pictures.FILENAME)


def report_of(out) -> dict:
    return json.loads((out / "report.json").read_text())


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG"
        im.verify()
        return im.size


def embedded(page: str, data: bytes) -> bool:
    return f"data:image/png;base64,{base64.b64encode(data).decode('ascii')}" in page


def test_a_labelled_run_draws_both_pictures_lists_and_embeds_them(detector_labelled):
    out = detector_labelled
    pics = report_of(out)["evaluation"]["pictures"]
    assert pics["judged"] == "onnx"
    assert (pics["pr_curves"]["file"], pics["boxes"]["file"]) == FILES
    assert pics["pr_curves"]["classes"] == ["ring", "box"]
    shown = pics["boxes"]["images"]
    assert len(shown) == 3 and {s["id"] for s in shown} == {
        "images/val/0.png",
        "images/val/1.png",
        "images/val/2.png",
    }
    assert [s["unmatched"] for s in shown] == sorted((s["unmatched"] for s in shown), reverse=True)
    curves_w, curves_h = png_size((out / FILES[0]).read_bytes())
    # report.html shows a picture up to 1136 px wide unscaled (its column less padding and border)
    assert 900 <= curves_w <= 1136 and 200 <= curves_h <= 700  # one row: the mean and two classes
    boxes_w, boxes_h = png_size((out / FILES[1]).read_bytes())
    assert 900 <= boxes_w <= 1136 and 500 <= boxes_h <= 800  # two rows of pairs, the legend under them
    listed = {f["path"] for f in json.loads((out / "manifest.json").read_text())["files"]}
    assert set(FILES) <= listed
    page = (out / "report.html").read_text()
    for name in FILES:
        assert embedded(page, (out / name).read_bytes())
    assert "dense PyTorch (solid) against pruned onnx (dashed)" in page
    assert (
        "ground truth dashed black-and-white" in page and "most first; ties go to the earlier image" in page
    )
    md = (out / "report.md").read_text()
    assert "pictures (in report.html): eval_pr_curves.png" in md and "base64" not in md


def test_html_from_report_json_alone_names_the_pictures_and_embeds_them_from_the_directory(
    detector_labelled, tmp_path
):
    data = report_of(detector_labelled)
    alone = render_html(data)
    assert "pictures (in report.html): eval_pr_curves.png" in alone and "data:image/png" not in alone
    assert render_html(data, directory=detector_labelled) == (detector_labelled / "report.html").read_text()
    copy = tmp_path / "out"
    shutil.copytree(detector_labelled, copy)
    (copy / FILES[1]).unlink()  # a picture gone: the other still shows
    page = render_html(data, directory=copy)
    assert page.count("data:image/png") == 1 and embedded(page, (copy / FILES[0]).read_bytes())


def test_only_bare_file_names_are_read_from_the_directory(detector_labelled, tmp_path):
    data = report_of(detector_labelled)
    (tmp_path / "run").mkdir()
    (tmp_path / "secret.png").write_bytes((detector_labelled / FILES[0]).read_bytes())
    data["evaluation"]["pictures"]["pr_curves"]["file"] = "../secret.png"
    data["evaluation"]["pictures"]["boxes"]["file"] = str(tmp_path / "secret.png")
    assert "data:image/png" not in render_html(data, directory=tmp_path / "run")


def test_a_label_free_run_draws_pruned_against_the_dense_reference(cli, tmp_path):
    args = ("run", "tests.models:pixel_detector", "--eval", "random:3", "--task", "detect", *TORCHSCRIPT)
    result = cli(*args, "--formats", "onnx", "-q", "--amount", "0.5", "--out", "o")
    assert result.exit_code == 0, result.output
    out = tmp_path / "o"
    for name in FILES:
        png_size((out / name).read_bytes())
    page = (out / "report.html").read_text()
    assert page.count("data:image/png") == 2
    assert "Label-free: precision against recall at IoU 0.5 of pruned onnx" in page
    assert "the dense model is that reference (dotted line at 1.0), not a measurement" in page
    assert "no labels, so no ground truth" in page


def boxes(*rows) -> Boxes:
    """Boxes from (x1, y1, x2, y2, class, score) rows."""
    a = np.array(rows, dtype=np.float32).reshape(-1, 6)
    return Boxes(a[:, :4], a[:, 4], a[:, 5])


def test_disagreement_counts_boxes_without_a_same_class_partner():
    one = boxes((0, 0, 10, 10, 0, 0.9), (20, 20, 30, 30, 1, 0.8))
    assert detection_pictures.disagreement(one, one) == 0
    assert detection_pictures.disagreement(one, boxes((0, 0, 10, 10, 1, 0.9), (20, 20, 30, 30, 1, 0.8))) == 2
    assert detection_pictures.disagreement(one, boxes((5, 5, 15, 15, 0, 0.9), (20, 20, 30, 30, 1, 0.8))) == 2
    weak = boxes((0, 0, 10, 10, 0, 0.9), (20, 20, 30, 30, 1, 0.8), (40, 40, 50, 50, 0, 0.1))
    assert detection_pictures.disagreement(one, weak) == 0  # under the drawing threshold: not drawn
    assert detection_pictures.disagreement(one, boxes()) == 2


def test_choose_takes_the_most_different_images_ties_in_data_order():
    same = boxes((0, 0, 10, 10, 0, 0.9))
    gone = boxes()
    two = boxes((0, 0, 10, 10, 1, 0.9))
    dense = [same, same, same, same, same, same]
    pruned = [same, gone, two, same, gone, same]
    assert detection_pictures.choose(dense, pruned) == [(2, 2), (1, 1), (4, 1), (0, 0)]
    assert detection_pictures.choose(dense[:2], pruned[:2]) == [(1, 1), (0, 0)]


def test_original_undoes_the_letterbox(tmp_path):
    """A smooth 48x30 image letterboxed to 32x32 comes back 48x30, close to what was read."""
    y, x = np.mgrid[0:30, 0:48]
    image = np.stack([x * 5, y * 8, (x + y) * 3], axis=-1).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "a.png")
    data = load_detection_data(str(tmp_path), (32, 32))
    back = data.original(0)
    assert back.shape == (30, 48, 3) and back.dtype == np.uint8
    assert np.abs(back.astype(int) - image).mean() < 6


def fake_metrics(names, curve, ap):
    return {
        "mAP50": float(np.mean(list(ap.values()))),
        "per_class_ap": {n: {"AP50": ap[n], "AP50-95": ap[n] / 2} for n in names},
        "pr_curves": {n: curve(n) for n in names},
    }


def test_many_classes_plot_the_mean_and_those_that_dropped_most(tmp_path):
    names = [f"c{i}" for i in range(12)]
    dense = fake_metrics(names, lambda n: [1.0] * 101, {n: 0.9 for n in names})
    pruned_ap = {n: 0.9 - 0.05 * i for i, n in enumerate(names)}
    pruned = fake_metrics(names, lambda n: [pruned_ap[n]] * 101, pruned_ap)
    path = tmp_path / "c.png"
    shown = detection_plots.write(path, {"dense": dense, "pruned": pruned}, "onnx")
    assert shown == names[::-1][: detection_plots.MAX_CLASSES]
    first = path.read_bytes()
    assert png_size(first)[0] == 1130
    detection_plots.write(path, {"dense": dense, "pruned": pruned}, "onnx")
    assert path.read_bytes() == first  # the same curves draw the same bytes


@pytest.mark.parametrize("hw", [(30, 48), (300, 200)])
def test_boxes_picture_of_small_and_large_images(tmp_path, hw):
    """Tiny images are enlarged and large ones shrunk into the same panels; boxes in any corner
    order and classes without a name are drawn; the same input draws the same bytes."""
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 256, (*hw, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    data = load_detection_data(str(tmp_path), (32, 32))
    h, w = hw
    dense = [boxes((0, 0, w / 2, h / 2, 0, 0.9), (w, h, w / 2, h / 2, 7, 0.3)) for _ in range(5)]
    pruned = [boxes((0, 0, w / 2, h / 2, 0, 0.9))] * 5
    chosen = detection_pictures.choose(dense, pruned)
    assert [n for _, n in chosen] == [1, 1, 1, 1]
    path = tmp_path / "b.png"
    detection_pictures.write(path, data, dense, pruned, "pruned onnx", chosen)
    first = path.read_bytes()
    assert png_size(first)[0] == 2 * (2 * detection_pictures.TILE + detection_pictures.GAP) + 48
    detection_pictures.write(path, data, dense, pruned, "pruned onnx", chosen)
    assert path.read_bytes() == first
