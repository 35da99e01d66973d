"""Detection evaluation: a model over ``DetectionData``, in PyTorch or onnxruntime, scored on boxes.

Each batch's first output (a nested output's first tensor, as YOLOv5's ``Detect`` returns it)
is decoded (``boxes.decode``: the YOLOv5 or YOLOv8 layout), reduced by per-class NMS with YOLO
validation's thresholds (``boxes.CONF``, ``boxes.IOU``, ``boxes.MAX_DET``), and mapped back from
letterboxed input pixels to original pixels, batch by batch: a YOLOv5s head at 640x640 gives
8.6 MB of raw output per image, too much to keep for 500 images.

With labels, the dense and the pruned model are each scored against them
(``detection_metrics.evaluate``) and the drop is dense - pruned. Without labels, the pruned
model is scored against the dense model's detections (``detection_metrics.agreement``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import numpy as np

from secateurs.config import DROP_METRICS
from secateurs.errors import InputError
from secateurs.evaluation import boxes, detection_metrics, judge
from secateurs.evaluation.boxes import Boxes
from secateurs.evaluation.detection_data import DetectionData, boxes_to_original

BATCH = 32
METRICS = DROP_METRICS["detect"]  # the names --max-drop takes
NMS = {"conf": boxes.CONF, "iou": boxes.IOU, "max_det": boxes.MAX_DET}
REFERENCE = (
    f"label-free: the dense model's detections scoring >= {detection_metrics.REFERENCE_CONF}"
    " stand in for the labels; drop = 1 - the pruned model's metric against them"
)


def torch_detections(model, data: DetectionData, box_format: str | None = None) -> list[Boxes]:
    """Per image, the model's detections in original pixels (xyxy float32, classes, scores)."""
    return _detections(judge.torch_first_output(model), data, box_format)


def onnx_detections(
    path, data: DetectionData, box_format: str | None = None, provider: str = "CPUExecutionProvider"
) -> list[Boxes]:
    """As ``torch_detections``, for an ONNX file in onnxruntime (its first output)."""
    return _detections(judge.onnx_first_output(path, provider), data, box_format)


def _detections(run: Callable[[np.ndarray], np.ndarray], data: DetectionData, box_format) -> list[Boxes]:
    out = []
    nc = len(data.names) or None
    for start, raw in _batches(run, data):
        try:
            decoded = boxes.decode(raw, nc, box_format)
        except InputError as e:  # the class count comes from the data: say so, and how to fix it
            raise InputError(
                f"{data.source}: {e}; the {nc} classes are the data's (a folder without data.yaml"
                " counts the label files' largest class), so give a data.yaml naming the model's classes"
            ) from None
        for i, candidates in enumerate(decoded, start):
            kept = boxes.nms(candidates, **NMS)
            hw = tuple(int(v) for v in data.original_hw[i])
            xyxy = boxes_to_original(kept.xyxy, float(data.ratios[i]), tuple(data.pads[i]), hw)
            out.append(Boxes(xyxy, kept.classes, kept.scores))
    return out


def _batches(run, data: DetectionData) -> Iterator[tuple[int, np.ndarray]]:
    for start in range(0, data.n, BATCH):
        yield start, run(data.inputs(start, start + BATCH))


def truths(data: DetectionData) -> list[Boxes] | None:
    if data.boxes is None:
        return None
    return [Boxes(b, c) for b, c in zip(data.boxes, data.classes)]


def check_reference(data: DetectionData, dense: list[Boxes]) -> None:
    """Label-free data needs dense detections to stand in for labels: refuse, naming the data, when
    there are none, so the run stops at the reference stage rather than after export and
    validation. Labelled data: nothing to check."""
    if data.boxes is not None:
        return
    try:
        detection_metrics.reference_boxes(dense)
    except InputError as e:
        raise InputError(f"{data.source}: {e}") from None


def score(
    data: DetectionData, dense: list[Boxes], pruned: dict[str, list[Boxes]], dense_metrics: dict | None = None
) -> dict[str, dict]:
    """JSON-ready comparison of each pruned model's detections (by judged name: "pytorch",
    "onnx") with the dense model's; the dense model is scored once, or not at all when its
    labelled metrics are given (``dense_metrics``: a "dense" entry of an earlier result, as
    a sweep reuses it for every amount).

    Labelled: ``{"dense", "pruned", "drop"}`` per judged model, each metric a fraction; ``drop``
    is dense - pruned (positive: pruning lost it). Label-free: ``{"agreement", "drop"}``, the
    pruned model scored against the dense model's detections, and ``drop`` = 1 - agreement (the
    dense model agrees with itself at 1.0).
    """
    gt = truths(data)
    if gt is not None:
        d = dense_metrics or as_dict(detection_metrics.evaluate(dense, gt, data.names))
        results = {}
        for judged, found in pruned.items():
            p = as_dict(detection_metrics.evaluate(found, gt, data.names))
            results[judged] = {"dense": d, "pruned": p, "drop": {k: _round(d[k] - p[k]) for k in METRICS}}
        return results
    results = {}
    for judged, found in pruned.items():
        try:
            a = as_dict(detection_metrics.agreement(dense, found, data.names or None))  # no names: ids
        except InputError as e:
            raise InputError(f"{data.source}: {e}") from None
        results[judged] = {"agreement": a, "drop": {k: _round(1.0 - a[k]) for k in METRICS}}
    return results


def _round(drop: float) -> float:
    """Drops to 1e-6: onnxruntime's float rounding moves a metric by ~1e-7, which is no drop
    (a --max-drop of 0 must pass an unpruned model in onnxruntime)."""
    return round(drop, 6) + 0.0  # + 0.0: no -0.0


def as_dict(m: detection_metrics.DetectionMetrics) -> dict:
    """The metrics under the names the report and --max-drop use (``mAP50-95``)."""
    d = dataclasses.asdict(m)
    d["mAP50-95"] = d.pop("mAP50_95")
    d["per_class_ap"] = {
        name: {"AP50": ap["AP50"], "AP50-95": ap["AP50_95"]} for name, ap in d["per_class_ap"].items()
    }
    return d
