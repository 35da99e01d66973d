"""Detection metrics, dense vs pruned: COCO mAP, and YOLO-style precision/recall at the best F1.

mAP50, mAP50-95 and per-class AP are COCOeval's ("bbox"), run in memory on one area range (all)
with ``max_det`` detections per image and class. A class without ground truth has AP -1 there
and is left out of the means, as COCO does. The evaluator is faster-coco-eval's
``COCOeval_faster``, a C++ port of pycocotools' COCOeval that gives the same precision arrays
(the tests check it against pycocotools' own documented path) in about half the time here.

Precision and recall are reported as YOLO validation reports them (ultralytics
``utils/metrics.py::ap_per_class``): per class, P and R as functions of the confidence threshold
(on a 1000-point grid, at IoU 0.5), F1 averaged over the classes with ground truth, smoothed
with a box filter over 10% of the grid as ultralytics does, and P and R averaged over those
classes at its argmax. The true-positive flags at IoU 0.5 are COCOeval's matches (greedy by
score, from a second evaluation at that threshold alone); ultralytics matches greedily by IoU, which differs only where boxes contend for a match
(two predictions of a class over one object, or one prediction over two objects).

Label-free (``agreement``): the dense model's detections scoring >= 0.25 (ultralytics predict's
default confidence) stand in for the ground truth of the pruned model, whose precision and recall
are read at that same confidence; its mAPs use all its detections, as with labels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from faster_coco_eval import COCO, COCOeval_faster

from secateurs.errors import InputError
from secateurs.evaluation.boxes import MAX_DET, Boxes

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)  # COCOeval's default
RECALL_POINTS = np.linspace(0.0, 1.0, 101)  # COCOeval's recall grid: the x of ``pr_curves``
CONF_GRID = np.linspace(0.0, 1.0, 1000)  # ap_per_class's confidence grid
F1_SMOOTH = 0.1  # ap_per_class: ``smooth(f1_curve.mean(0), 0.1)``
REFERENCE_CONF = 0.25


@dataclasses.dataclass(frozen=True)
class DetectionMetrics:
    """Metrics of one model over ``images`` images.

    per_class_ap: class name -> {"AP50", "AP50_95"}, classes with ground truth only.
    pr_curves: class name -> precision at each of ``RECALL_POINTS`` (IoU 0.5, COCO's
    interpolated precision, the curve AP50 integrates), classes with ground truth only.
    thresholds: the IoU thresholds, the detection cap, and the confidence P and R are read at.
    """

    precision: float
    recall: float
    mAP50: float
    mAP50_95: float
    per_class_ap: dict[str, dict[str, float]]
    pr_curves: dict[str, list[float]]
    thresholds: dict
    images: int


def evaluate(
    predictions: Sequence[Boxes],
    truths: Sequence[Boxes],
    names: Sequence[str] | None = None,
    max_det: int = MAX_DET,
    pr_conf: float | None = None,
) -> DetectionMetrics:
    """Score ``predictions`` (Boxes with scores, e.g. from ``boxes.nms``) against ``truths``.

    One Boxes per image in each, in the same order: xyxy float32 (n, 4) in input pixels,
    classes int64 (n,), scores float32 (n,) in [0, 1] (ignored on ``truths``). Class c is
    named ``names[c]`` (default ``str(c)``); ``max_det`` caps detections per image and class,
    as COCOeval's maxDets does. Precision and recall are read at the best F1, or at the
    detections scoring >= ``pr_conf`` when it is given. All metrics are fractions in [0, 1];
    no detections at all gives zeros.

    Raises InputError when the lists differ in length, a prediction has no scores, a class is
    outside ``names``, or there is no ground-truth box at all (every metric would be undefined).
    """
    if len(predictions) != len(truths):
        raise InputError(f"{len(predictions)} images of detections but {len(truths)} of ground truth")
    if any(p.scores is None for p in predictions):
        raise InputError("detections need scores; got boxes without them")
    seen = {int(c) for b in (*predictions, *truths) for c in b.classes}
    classes = range(len(names)) if names is not None else sorted(seen)
    if names is not None and not seen <= set(classes):
        raise InputError(f"class {max(seen)} is outside the {len(names)} class names")
    if not any(len(t) for t in truths):
        raise InputError(f"no ground-truth box in {len(truths)} images: detection metrics are undefined")
    predictions = [_top_per_class(p, max_det) for p in predictions]  # COCOeval's maxDets, made explicit
    gt, dt = _coco(truths, classes), _coco(predictions, classes)
    ev = _cocoeval(gt, dt, max_det, IOU_THRESHOLDS)
    precision = ev.eval["precision"][:, :, :, 0, 0]  # (IoU, recall point, class), -1: no GT
    has_gt = precision[0, 0] > -1
    ap = precision.mean(axis=1)  # (IoU, class)
    label = [names[c] if names is not None else str(c) for c in ev.params.catIds]
    matches = _matches(_cocoeval(gt, dt, max_det, [0.5], extra_calc=True), ev.params.catIds, has_gt)
    if pr_conf is None:
        p, r, conf = _best_f1(matches)
    else:
        (p, r), conf = _at_conf(matches, pr_conf), pr_conf
    return DetectionMetrics(
        precision=p,
        recall=r,
        mAP50=float(ap[0, has_gt].mean()),
        mAP50_95=float(ap[:, has_gt].mean()),
        per_class_ap={
            label[k]: {"AP50": float(ap[0, k]), "AP50_95": float(ap[:, k].mean())}
            for k in np.flatnonzero(has_gt)
        },
        pr_curves={label[k]: precision[0, :, k].tolist() for k in np.flatnonzero(has_gt)},
        thresholds={
            "map_iou": [round(float(t), 2) for t in IOU_THRESHOLDS],
            "pr_iou": 0.5,
            "pr_conf": conf,
            "pr_conf_from": "max F1" if pr_conf is None else "given",
            "max_det": max_det,
        },
        images=len(truths),
    )


def agreement(
    dense: Sequence[Boxes],
    pruned: Sequence[Boxes],
    names: Sequence[str] | None = None,
    reference_conf: float = REFERENCE_CONF,
    max_det: int = MAX_DET,
) -> DetectionMetrics:
    """Label-free: ``pruned``'s detections scored against ``dense``'s scoring >= ``reference_conf``.

    Precision and recall are those of the pruned detections scoring >= ``reference_conf`` too
    (a best-F1 threshold would move with the pruned model), so pruned == dense gives 1.0s.

    Raises InputError when the dense model detects nothing at that confidence.
    """
    reference = reference_boxes(dense, reference_conf)
    m = evaluate(pruned, reference, names, max_det, pr_conf=reference_conf)
    return dataclasses.replace(m, thresholds={**m.thresholds, "reference_conf": reference_conf})


def reference_boxes(dense: Sequence[Boxes], reference_conf: float = REFERENCE_CONF) -> list[Boxes]:
    """The label-free stand-in for ground truth: ``dense``'s detections scoring >= ``reference_conf``.

    Raises InputError when there are none in any image. Untrained detectors land here: the
    YOLOv5/YOLOv8/YOLO11 heads initialise their class biases so that every score starts far below
    0.25 (benchmarks/REAL_DETECTORS.md), so randomly initialised weights have no reference.
    """
    reference = [Boxes(d.xyxy, d.classes).take(d.scores >= reference_conf) for d in dense]
    if not any(len(r) for r in reference):
        best = max((float(d.scores.max()) for d in dense if len(d)), default=None)
        top = f" (its best score is {best:.4g})" if best is not None else " (no detection at all)"
        raise InputError(
            f"the dense model detects nothing scoring >= {reference_conf} in {len(dense)} images{top}:"
            " no reference to agree with; label-free evaluation needs a model that detects"
            " (trained weights), or give labelled data"
        )
    return reference


def drops(dense: DetectionMetrics, pruned: DetectionMetrics) -> dict:
    """dense - pruned for each metric (positive: pruning lost it), and per class for both APs."""
    keys = ("precision", "recall", "mAP50", "mAP50_95")
    result = {k: getattr(dense, k) - getattr(pruned, k) for k in keys}
    result["per_class_ap"] = {
        name: {k: ap[k] - pruned.per_class_ap[name][k] for k in ap}
        for name, ap in dense.per_class_ap.items()
        if name in pruned.per_class_ap
    }
    return result


def _top_per_class(b: Boxes, max_det: int) -> Boxes:
    """``b``'s ``max_det`` best-scoring detections of each class (COCOeval ignores the rest; so
    must the precision and recall read from its matches)."""
    if len(b) <= max_det:
        return b
    order = np.argsort(-b.scores, kind="stable")
    rank = np.empty(len(b), dtype=np.int64)
    for c in np.unique(b.classes):
        mine = order[b.classes[order] == c]
        rank[mine] = np.arange(len(mine))
    return b.take(np.sort(np.flatnonzero(rank < max_det)))


def _coco(images: Sequence[Boxes], classes: Sequence[int]) -> COCO:
    """A COCO object in memory; annotation ids start at 1, since COCOeval reads id 0 as unmatched."""
    anns = []
    for i, b in enumerate(images):
        xywh = np.concatenate([b.xyxy[:, :2], b.xyxy[:, 2:] - b.xyxy[:, :2]], axis=1).astype(np.float64)
        scores = b.scores.tolist() if b.scores is not None else [None] * len(b)
        for box, c, s in zip(xywh.tolist(), b.classes.tolist(), scores):
            ann = {"id": len(anns) + 1, "image_id": i, "category_id": c, "bbox": box}
            ann.update(area=box[2] * box[3], iscrowd=0, **({"score": s} if s is not None else {}))
            anns.append(ann)
    coco = COCO()
    coco.dataset = {
        "images": [{"id": i} for i in range(len(images))],
        "categories": [{"id": c} for c in classes],
        "annotations": anns,
    }
    coco.createIndex()
    return coco


def _cocoeval(gt: COCO, dt: COCO, max_det: int, iou_thresholds, extra_calc: bool = False) -> COCOeval_faster:
    """COCOeval ("bbox") over one area range (all) with ``max_det`` detections per image and class."""
    ev = COCOeval_faster(gt, dt, "bbox", extra_calc=extra_calc, print_function=lambda *_: None)
    ev.params.areaRng, ev.params.areaRngLbl, ev.params.maxDets = [[0, 1e10]], ["all"], [max_det]
    ev.params.iouThrs = np.asarray(iou_thresholds, dtype=np.float64)
    ev.evaluate()
    ev.accumulate()
    return ev


def _matches(ev: COCOeval_faster, cat_ids, has_gt: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Per class with ground truth: its detections' scores (descending), whether each is a true
    positive at IoU 0.5, and its ground-truth count. ``ev`` evaluated at IoU 0.5 alone with
    ``extra_calc``: its matches are COCOeval's greedy ones at that threshold (at several
    thresholds faster-coco-eval reports the union of their matches)."""
    matched = {int(key.split("_", 1)[0]) for key in ev.eval["matched"]}
    dts = list(ev.cocoDt.anns.values())
    dt_class = np.asarray([a["category_id"] for a in dts], dtype=np.int64)
    dt_score = np.asarray([a["score"] for a in dts], dtype=np.float64)
    dt_tp = np.asarray([a["id"] in matched for a in dts], dtype=bool)
    gt_class = np.asarray([a["category_id"] for a in ev.cocoGt.anns.values()], dtype=np.int64)
    result = []
    for k in np.flatnonzero(has_gt):
        mine = dt_class == cat_ids[k]
        order = np.argsort(-dt_score[mine], kind="stable")
        result.append(
            (dt_score[mine][order], dt_tp[mine][order], int(np.count_nonzero(gt_class == cat_ids[k])))
        )
    return result


def _best_f1(matches: list) -> tuple[float, float, float]:
    """(precision, recall, confidence) at the smoothed maximum of the class-mean F1 (ap_per_class)."""
    p = np.zeros((len(matches), len(CONF_GRID)))  # a class without detections: P = R = 0
    r = np.zeros_like(p)
    for k, (scores, tp, n_gt) in enumerate(matches):
        if len(scores):
            tpc, fpc = np.cumsum(tp), np.cumsum(~tp)
            r[k] = np.interp(-CONF_GRID, -scores, tpc / n_gt, left=0)
            p[k] = np.interp(-CONF_GRID, -scores, tpc / (tpc + fpc), left=1)
    f1 = 2 * p * r / (p + r + 1e-16)
    i = int(_smooth(f1.mean(axis=0), F1_SMOOTH).argmax())
    return float(p[:, i].mean()), float(r[:, i].mean()), float(CONF_GRID[i])


def _at_conf(matches: list, conf: float) -> tuple[float, float]:
    """Class-mean (precision, recall) of the detections scoring >= ``conf``; no detection: P = 0."""
    p, r = [], []
    for scores, tp, n_gt in matches:
        hits, n = int(tp[scores >= conf].sum()), int((scores >= conf).sum())
        p.append(hits / n if n else 0.0)
        r.append(hits / n_gt)
    return float(np.mean(p)), float(np.mean(r))


def _smooth(y: np.ndarray, fraction: float) -> np.ndarray:
    """ultralytics ``smooth``: a box filter over ``fraction`` of the points, edges padded."""
    nf = round(len(y) * fraction * 2) // 2 + 1
    pad = np.ones(nf // 2)
    return np.convolve(np.concatenate([pad * y[0], y, pad * y[-1]]), np.ones(nf) / nf, mode="valid")
