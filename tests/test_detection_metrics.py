"""Detection evaluation: decoding YOLO head outputs, per-class NMS, and COCO/YOLO metrics,
on hand-made boxes whose answers are known."""

import contextlib
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from secateurs.errors import InputError, UsageError
from secateurs.evaluation import detection_metrics as dm
from secateurs.evaluation.boxes import Boxes, decode, layout, nms

GT = Boxes([[10, 10, 50, 50], [60, 60, 90, 100], [0, 70, 20, 90]], [0, 1, 1])


def scored(boxes: Boxes, scores) -> Boxes:
    return Boxes(boxes.xyxy, boxes.classes, scores)


def random_boxes(rng, n, nc=3, extent=100.0) -> Boxes:
    xy = rng.uniform(0, extent, (n, 2))
    wh = rng.uniform(5, 40, (n, 2))
    return Boxes(np.concatenate([xy, xy + wh], axis=1), rng.integers(0, nc, n), rng.uniform(0, 1, n))


# --- metrics with labels ---


def test_perfect_detections_score_one():
    m = dm.evaluate([scored(GT, [0.9, 0.8, 0.7])], [GT])
    assert m.mAP50 == pytest.approx(1) and m.mAP50_95 == pytest.approx(1)
    assert m.precision == pytest.approx(1) and m.recall == pytest.approx(1)
    assert set(m.per_class_ap) == {"0", "1"} and m.images == 1
    assert m.thresholds["max_det"] == 300 and m.thresholds["map_iou"][-1] == 0.95


def test_one_missed_object_of_two_halves_recall():
    gt = Boxes([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0])
    m = dm.evaluate([Boxes([[0, 0, 10, 10]], [0], [0.9])], [gt])
    assert m.recall == pytest.approx(0.5) and m.precision == pytest.approx(1)
    assert m.mAP50 == pytest.approx(51 / 101)  # COCO's 101 recall points: precision 1 up to 0.50
    curve = np.array(m.pr_curves["0"])
    assert len(curve) == len(dm.RECALL_POINTS) == 101
    assert np.allclose(curve[:51], 1) and np.allclose(curve[51:], 0)


@pytest.mark.parametrize(("height", "ap50_95"), [(5.2, 0.1), (6.2, 0.3)])
def test_a_loose_box_counts_at_iou_050_only_up_to_its_iou(height, ap50_95):
    """IoU 0.52 is a match at 0.50 only (1 of 10 thresholds); IoU 0.62 at 0.50, 0.55, 0.60."""
    gt = Boxes([[0, 0, 10, 10]], [0])
    m = dm.evaluate([Boxes([[0, 0, 10, height]], [0], [0.9])], [gt])
    assert m.mAP50 == pytest.approx(1)
    assert m.mAP50_95 == pytest.approx(ap50_95)
    assert m.per_class_ap["0"] == pytest.approx({"AP50": 1, "AP50_95": ap50_95})


def coco_directly(predictions, truths):
    """mAP50-95 and mAP50 by pycocotools' documented path: loadRes, default params, summarize."""
    anns = []
    for i, t in enumerate(truths):
        for (x1, y1, x2, y2), c in zip(t.xyxy.tolist(), t.classes.tolist()):
            w, h = x2 - x1, y2 - y1
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": c, "bbox": [x1, y1, w, h]})
            anns[-1].update(area=w * h, iscrowd=0)
    results = [
        {"image_id": i, "category_id": int(c), "bbox": [x1, y1, x2 - x1, y2 - y1], "score": float(s)}
        for i, p in enumerate(predictions)
        for (x1, y1, x2, y2), c, s in zip(p.xyxy.tolist(), p.classes, p.scores)
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {
            "images": [{"id": i} for i in range(len(truths))],
            "categories": [{"id": c} for c in range(3)],
            "annotations": anns,
        }
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(results), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats[0], ev.stats[1]


def test_map_matches_cocoeval_run_directly():
    rng = np.random.default_rng(0)
    truths, predictions = [], []
    for _ in range(20):
        t = random_boxes(rng, int(rng.integers(0, 6)))
        t = Boxes(t.xyxy, t.classes)
        jitter = t.xyxy + rng.normal(0, 3, t.xyxy.shape)
        noise = random_boxes(rng, 4)
        predictions.append(
            Boxes(
                np.concatenate([jitter, noise.xyxy]),
                np.concatenate([t.classes, noise.classes]),
                rng.uniform(0, 1, len(t) + 4),
            )
        )
        truths.append(t)
    m = dm.evaluate(predictions, truths, names=["a", "b", "c"])
    map50_95, map50 = coco_directly(predictions, truths)
    assert 0.1 < m.mAP50_95 < m.mAP50 < 1  # a case where the thresholds matter
    assert m.mAP50_95 == pytest.approx(map50_95, abs=1e-9)
    assert m.mAP50 == pytest.approx(map50, abs=1e-9)


def test_classes_and_images_without_ground_truth():
    """A class with no ground truth is out of the means; an image without GT only adds FPs."""
    gt = Boxes([[0, 0, 10, 10]], [0])
    stray = Boxes([[50, 50, 60, 60]], [2], [0.95])  # class 2 has no ground truth anywhere
    m = dm.evaluate([Boxes([[0, 0, 10, 10]], [0], [0.9]), stray], [gt, Boxes([], [])], names=["a", "b", "c"])
    assert m.mAP50 == pytest.approx(1) and set(m.per_class_ap) == {"a"}
    assert m.precision == pytest.approx(1) and m.images == 2
    fp = Boxes([[50, 50, 60, 60]], [0], [0.95])  # an image without GT, a better-scored FP of class a
    m = dm.evaluate([Boxes([[0, 0, 10, 10]], [0], [0.9]), fp], [gt, Boxes([], [])])
    assert m.mAP50 == pytest.approx(0.5, abs=0.01)


def test_no_detections_give_zeros_not_an_error():
    empty = Boxes(np.zeros((0, 4)), [], [])
    m = dm.evaluate([empty, empty], [GT, Boxes([], [])])
    assert (m.mAP50, m.mAP50_95, m.precision, m.recall) == (0, 0, 0, 0)
    assert set(m.per_class_ap) == {"0", "1"}


def test_refusals():
    with pytest.raises(InputError, match="no ground-truth box in 1 images"):
        dm.evaluate([scored(GT, [0.9] * 3)], [Boxes([], [])])
    with pytest.raises(InputError, match="1 images of detections but 2"):
        dm.evaluate([scored(GT, [0.9] * 3)], [GT, GT])
    with pytest.raises(InputError, match="need scores"):
        dm.evaluate([GT], [GT])
    with pytest.raises(InputError, match="outside the 1 class names"):
        dm.evaluate([scored(GT, [0.9] * 3)], [GT], names=["only"])


def test_drops_between_dense_and_pruned():
    dense = dm.evaluate([scored(GT, [0.9, 0.8, 0.7])], [GT])
    pruned = dm.evaluate([scored(GT, [0.9, 0.8, 0.7]).take([0, 1])], [GT])  # misses a class-1 object
    d = dm.drops(dense, pruned)
    assert d["per_class_ap"]["0"]["AP50"] == pytest.approx(0)
    assert d["per_class_ap"]["1"]["AP50"] == pytest.approx(1 - 51 / 101)
    assert d["mAP50"] == pytest.approx((1 - 51 / 101) / 2)
    assert d["recall"] == pytest.approx(0.25)


# --- label-free agreement ---


def test_agreement_of_a_model_with_itself_is_perfect():
    rng = np.random.default_rng(1)
    dense = [random_boxes(rng, 12) for _ in range(5)]
    m = dm.agreement(dense, dense)
    assert (m.precision, m.recall) == (1, 1)
    assert m.mAP50 == pytest.approx(1) and m.mAP50_95 == pytest.approx(1)
    assert m.thresholds["reference_conf"] == 0.25 == m.thresholds["pr_conf"]


def test_agreement_drops_when_pruned_loses_and_shifts_boxes():
    rng = np.random.default_rng(2)
    dense = [random_boxes(rng, 12) for _ in range(5)]
    pruned = [Boxes(d.xyxy + 4, d.classes, d.scores).take(slice(1, None)) for d in dense]
    m = dm.agreement(dense, pruned)
    assert m.recall < 1 and m.mAP50_95 < m.mAP50 < 1
    with pytest.raises(InputError, match="detects nothing scoring >= 0.25"):
        dm.agreement([Boxes([[0, 0, 5, 5]], [0], [0.1])], pruned[:1])


def test_agreement_precision_and_recall_at_the_reference_confidence():
    dense = [Boxes([[0, 0, 10, 10], [50, 50, 60, 60]], [0, 1], [0.9, 0.8])]
    extra = Boxes([[0, 0, 10, 10], [80, 80, 90, 90], [50, 50, 60, 60]], [0, 0, 1], [0.9, 0.5, 0.2])
    m = dm.agreement(dense, [extra])
    # class 0: 1 of 2 detections >= 0.25 is right (P 0.5, R 1); class 1: none >= 0.25 (P 0, R 0)
    assert (m.precision, m.recall) == (0.25, 0.5)


# --- NMS ---


def brute_force_nms(b: Boxes, conf: float, iou: float, max_det: int) -> list[int]:
    def pair_iou(p, q):
        w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
        h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
        union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - w * h
        return w * h / union

    keep = []
    for i in sorted(range(len(b)), key=lambda i: -b.scores[i]):
        if b.scores[i] > conf and all(
            b.classes[k] != b.classes[i] or pair_iou(b.xyxy[i], b.xyxy[k]) <= iou for k in keep
        ):
            keep.append(i)
    return keep[:max_det]


@pytest.mark.parametrize(("conf", "iou", "max_det"), [(0.001, 0.7, 300), (0.3, 0.45, 300), (0.001, 0.6, 7)])
def test_nms_matches_brute_force(conf, iou, max_det):
    rng = np.random.default_rng(3)
    b = random_boxes(rng, 300, nc=3)
    kept = nms(b, conf=conf, iou=iou, max_det=max_det)
    expected = brute_force_nms(b, conf, iou, max_det)
    assert 0 < len(expected) < len(b)
    assert np.array_equal(kept.xyxy, b.xyxy[expected]) and np.array_equal(kept.classes, b.classes[expected])


def test_nms_suppresses_duplicates_within_a_class_only():
    box = [10, 10, 50, 50]
    near = [12, 11, 51, 50]  # IoU ~0.9 with box
    same = nms(Boxes([box, near], [4, 4], [0.9, 0.8]))
    assert len(same) == 1 and same.scores[0] == pytest.approx(0.9)
    apart = nms(Boxes([box, near], [4, 5], [0.9, 0.8]))
    assert len(apart) == 2 and sorted(apart.classes.tolist()) == [4, 5]
    half = Boxes([[0, 0, 10, 10], [0, 0, 10, 5]], [0, 0], [0.9, 0.8])  # IoU exactly 0.5
    assert len(nms(half, iou=0.5)) == 2  # suppressed only above the threshold, as torchvision
    assert len(nms(half, iou=0.49)) == 1


def test_nms_caps_and_thresholds():
    rng = np.random.default_rng(4)
    xy = rng.uniform(0, 10000, (500, 2))  # far apart: nothing overlaps
    b = Boxes(np.concatenate([xy, xy + 10], axis=1), np.zeros(500), rng.uniform(0, 1, 500))
    assert len(nms(b)) == 300
    assert np.all(np.diff(nms(b).scores) <= 0)  # best first
    assert len(nms(b, max_det=1000)) == int((b.scores > 0.001).sum())
    assert nms(b, max_nms=10).scores.tolist() == sorted(b.scores, reverse=True)[:10]
    assert len(nms(b, conf=1.0)) == 0


# --- decoding ---

KNOWN = Boxes([[10, 20, 50, 80], [100, 100, 140, 120], [105, 98, 140, 122]], [0, 2, 1], [0.9, 0.8, 0.6])


def encode(boxes: Boxes, nc: int, n_anchors: int, box_format: str, rng) -> np.ndarray:
    """Known boxes into a (1, N, 5 + nc) or (1, 4 + nc, N) head output, plus near-duplicates
    of each with lower scores and background anchors under the confidence threshold."""
    xywh = np.concatenate(
        [(boxes.xyxy[:, :2] + boxes.xyxy[:, 2:]) / 2, boxes.xyxy[:, 2:] - boxes.xyxy[:, :2]], 1
    )
    rows = np.zeros((n_anchors, 4 + nc), dtype=np.float32)
    rows[:, :4] = rng.uniform(0, 300, (n_anchors, 4))
    rows[:, 4:] = rng.uniform(0, 0.0009, (n_anchors, nc))
    for k, (box, c, s) in enumerate(zip(xywh, boxes.classes, boxes.scores)):
        rows[2 * k, :4], rows[2 * k, 4 + c] = box, s
        rows[2 * k + 1, :4], rows[2 * k + 1, 4 + c] = box + [1, -1, 0, 1], s / 2
    if box_format == "yolov8":
        return rows.T[None]
    obj = np.full((n_anchors, 1), 0.5, dtype=np.float32)  # score = obj x cls
    rows[:, 4:] *= 2
    return np.concatenate([rows[:, :4], obj, rows[:, 4:]], axis=1)[None]


@pytest.mark.parametrize("box_format", ["yolov5", "yolov8"])
@pytest.mark.parametrize("nc", [3, None])
def test_decode_and_nms_give_the_encoded_boxes_back(box_format, nc):
    output = encode(KNOWN, 3, 200, box_format, np.random.default_rng(5))
    assert output.shape == ((1, 200, 8) if box_format == "yolov5" else (1, 7, 200))
    (candidates,) = decode(output, nc)
    assert len(candidates) == 200
    got = nms(candidates, iou=0.7)
    assert np.allclose(got.xyxy, KNOWN.xyxy, atol=1e-4)  # the overlapping pair differ in class
    assert got.classes.tolist() == KNOWN.classes.tolist()
    assert np.allclose(got.scores, KNOWN.scores)


def test_decode_splits_the_batch():
    output = np.concatenate([encode(KNOWN, 3, 50, "yolov8", np.random.default_rng(s)) for s in (6, 7)])
    images = decode(output, 3)
    assert len(images) == 2 and all(len(nms(c)) == 3 for c in images)


@pytest.mark.parametrize(
    ("shape", "nc", "box_format", "expected"),
    [
        ((1, 25200, 85), 80, None, "yolov5"),
        ((1, 84, 8400), 80, None, "yolov8"),
        ((1, 25200, 85), None, None, "yolov5"),
        ((1, 84, 8400), None, None, "yolov8"),
        ((1, 84, 21), 80, None, "yolov8"),  # few anchors (a small input): nc settles it
        ((2, 84, 85), 80, "yolov5", "yolov5"),
        ((2, 84, 85), 80, "yolov8", "yolov8"),
    ],
)
def test_layout_detection(shape, nc, box_format, expected):
    assert layout(shape, nc, box_format) == expected


@pytest.mark.parametrize(
    ("shape", "nc", "box_format", "error", "message"),
    [
        ((2, 84, 85), 80, None, UsageError, r"fits both \(B, N, 85\) or \(B, 84, N\)"),
        ((1, 50, 50), None, None, UsageError, "give --box-format yolov5 or yolov8"),
        (
            (1, 100, 90),
            80,
            None,
            InputError,
            r"\(B, 100, 90\) does not fit for 80 classes: expected \(B, N, 85\)",
        ),
        (
            (1, 84, 8400),
            80,
            "yolov5",
            UsageError,
            r"--box-format yolov5 does not fit the output \(B, 84, 8400\), which is yolov8-shaped",
        ),
        ((1, 84, 8400), 81, "yolov5", InputError, r"\(B, 84, 8400\) does not fit for 81 classes"),
        ((1, 8400), None, None, InputError, r"shape \(1, 8400\); expected \(B, N, 5 \+ nc\)"),
        ((1, 84, 8400), None, "yolo", UsageError, "'yolo' is not one of yolov5, yolov8"),
    ],
)
def test_layout_refusals(shape, nc, box_format, error, message):
    with pytest.raises(error, match=message):
        layout(shape, nc, box_format)


@pytest.mark.parametrize("n", [1, 40, 300, 1500])
def test_matrix_nms_keeps_what_the_per_box_loop_keeps(monkeypatch, n):
    """Up to MATRIX_NMS candidates NMS reads a pairwise IoU matrix; above, one box_iou per kept box."""
    from secateurs.evaluation import boxes as boxes_module

    rng = np.random.default_rng(n)
    xy, wh = rng.uniform(0, 100, (n, 2)), rng.uniform(2, 30, (n, 2))
    candidates = Boxes(np.concatenate([xy, xy + wh], 1), rng.integers(0, 3, n), rng.uniform(0, 1, n))
    matrix = nms(candidates, max_det=200)
    monkeypatch.setattr(boxes_module, "MATRIX_NMS", 0)
    loop = nms(candidates, max_det=200)
    assert len(matrix) == len(loop) > 0
    assert np.array_equal(matrix.xyxy, loop.xyxy) and np.array_equal(matrix.classes, loop.classes)


def test_precision_recall_use_cocoevals_own_matches_and_detection_cap():
    """P and R count true positives as pycocotools' COCOeval matches them at IoU 0.5, with the
    detections beyond ``max_det`` per image and class left out as its maxDets leaves them out."""
    rng = np.random.default_rng(3)
    truths, predictions = [], []
    for _ in range(12):
        t = random_boxes(rng, int(rng.integers(1, 6)))
        truths.append(Boxes(t.xyxy, t.classes))
        near = t.xyxy + rng.normal(0, 4, t.xyxy.shape)
        noise = random_boxes(rng, 6)
        predictions.append(
            Boxes(
                np.concatenate([near, near + 1, noise.xyxy]),  # duplicates contend for one object
                np.concatenate([t.classes, t.classes, noise.classes]),
                rng.uniform(0, 1, 2 * len(t) + 6),
            )
        )
    cap = 3
    m = dm.evaluate(predictions, truths, names=["a", "b", "c"], max_det=cap, pr_conf=0.0)
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(dm_coco_gt(truths), dm_coco_gt(truths).loadRes(results_of(predictions)), "bbox")
        ev.params.areaRng, ev.params.areaRngLbl, ev.params.maxDets = [[0, 1e10]], ["all"], [cap]
        ev.evaluate()
    hits, found, gts = np.zeros(3), np.zeros(3), np.zeros(3)
    for e in ev.evalImgs:
        if e is not None:
            k = e["category_id"]
            hits[k] += int((e["dtMatches"][0] > 0).sum())
            found[k] += len(e["dtIds"])
            gts[k] += len(e["gtIds"])
    has = gts > 0
    assert found.sum() < sum(len(p) for p in predictions)  # the cap did leave detections out
    assert m.precision == pytest.approx(float(np.mean(hits[has] / np.maximum(found[has], 1))), abs=1e-12)
    assert m.recall == pytest.approx(float(np.mean(hits[has] / gts[has])), abs=1e-12)


def dm_coco_gt(truths) -> COCO:
    anns = []
    for i, t in enumerate(truths):
        for (x1, y1, x2, y2), c in zip(t.xyxy.tolist(), t.classes.tolist()):
            anns.append(
                {"id": len(anns) + 1, "image_id": i, "category_id": c, "bbox": [x1, y1, x2 - x1, y2 - y1]}
            )
            anns[-1].update(area=(x2 - x1) * (y2 - y1), iscrowd=0)
    gt = COCO()
    gt.dataset = {
        "images": [{"id": i} for i in range(len(truths))],
        "categories": [{"id": c} for c in range(3)],
        "annotations": anns,
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
    return gt


def results_of(predictions) -> list[dict]:
    return [
        {"image_id": i, "category_id": int(c), "bbox": [x1, y1, x2 - x1, y2 - y1], "score": float(s)}
        for i, p in enumerate(predictions)
        for (x1, y1, x2, y2), c, s in zip(p.xyxy.tolist(), p.classes, p.scores)
    ]
