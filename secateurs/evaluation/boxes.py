"""Raw YOLO head outputs -> per-image detections: decode, then per-class NMS. numpy only.

Two layouts, as the real detectors return them in eval mode (the first output tensor):
  YOLOv5          ``(B, N, 5 + nc)``: x, y, w, h (box centre and size, input pixels), objectness,
                  nc class scores; a box's score is objectness x class score (YOLOv5 val.py,
                  ``non_max_suppression``: ``x[:, 5:] *= x[:, 4:5]``).
  YOLOv8/YOLO11   ``(B, 4 + nc, N)``: x, y, w, h then nc class scores, no objectness.
One class per box: the best one (no multi-label).

NMS is written here rather than taken from ``torchvision.ops.nms``: torchvision does not import
beside the CPU torch build (docs DESIGN.md), and this module is torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from secateurs.config import BOX_FORMATS
from secateurs.errors import InputError, UsageError

FORMATS = BOX_FORMATS  # ("yolov5", "yolov8"), the --box-format choices
# YOLO validation's thresholds. conf 0.001 and max_det 300: ultralytics ``cfg/default.yaml``
# (val) and YOLOv5 val.py (conf_thres=0.001, max_det=300). IoU 0.7 is ultralytics val's;
# YOLOv5 val.py uses 0.6, so a report must record the value used. max_nms 30000: both
# ``non_max_suppression`` implementations (boxes kept, by score, before NMS).
CONF = 0.001
IOU = 0.7
MAX_DET = 300
MAX_NMS = 30000
MATRIX_NMS = 2048  # up to this many candidates NMS uses a pairwise IoU matrix (32 MB of float64)


@dataclass
class Boxes:
    """One image's boxes: detections when ``scores`` is given, ground truth when it is None.

    xyxy: float32 (n, 4), corners in input pixels; classes: int64 (n,); scores: float32 (n,).
    """

    xyxy: np.ndarray
    classes: np.ndarray
    scores: np.ndarray | None = None

    def __post_init__(self):
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        self.classes = np.asarray(self.classes, dtype=np.int64).reshape(-1)
        n = len(self.xyxy)
        if self.scores is not None:
            self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        if len(self.classes) != n or (self.scores is not None and len(self.scores) != n):
            raise InputError(
                f"boxes, classes and scores differ in length ({n}, {len(self.classes)},"
                f" {None if self.scores is None else len(self.scores)})"
            )

    def __len__(self) -> int:
        return len(self.xyxy)

    def take(self, index) -> Boxes:
        return Boxes(
            self.xyxy[index], self.classes[index], None if self.scores is None else self.scores[index]
        )


def layout(shape: tuple[int, ...], nc: int | None = None, box_format: str | None = None) -> str:
    """``"yolov5"`` or ``"yolov8"`` for a head output of ``shape``.

    ``box_format`` decides when given (and must fit ``nc`` when that is given too). Otherwise
    ``nc`` decides when exactly one layout fits it; without ``nc``, the longer of the two last
    axes is taken as the anchor axis (pass ``nc`` for outputs with fewer anchors than features). Raises UsageError for an unknown ``box_format`` or a
    shape both layouts fit, InputError for a shape neither fits.
    """
    if box_format is not None and box_format not in FORMATS:
        raise UsageError(f"box format {box_format!r} is not one of {', '.join(FORMATS)}")
    if len(shape) != 3:
        raise InputError(
            f"detection output has shape {tuple(shape)}; expected (B, N, 5 + nc) for YOLOv5"
            " or (B, 4 + nc, N) for YOLOv8/YOLO11"
        )
    fits = {"yolov5": shape[2] >= 6, "yolov8": shape[1] >= 5}
    if nc is not None:
        fits = {"yolov5": shape[2] == 5 + nc, "yolov8": shape[1] == 4 + nc}
    elif box_format is None and shape[1] != shape[2]:  # the anchor axis is the longer one
        fits["yolov5"] &= shape[1] > shape[2]
        fits["yolov8"] &= shape[2] > shape[1]
    expected = (
        f"(B, N, {5 + nc}) or (B, {4 + nc}, N)" if nc is not None else "(B, N, 5 + nc) or (B, 4 + nc, N)"
    )
    candidates = [f for f in FORMATS if fits[f] and box_format in (None, f)]
    shown = "(B, " + ", ".join(map(str, shape[1:])) + ")"
    if not candidates and box_format is not None and any(fits.values()):
        other = next(f for f in FORMATS if fits[f])
        raise UsageError(
            f"--box-format {box_format} does not fit the output {shown}, which is {other}-shaped"
        )
    if not candidates:
        classes = f" for {nc} classes" if nc is not None else ""
        raise InputError(f"detection output {shown} does not fit{classes}: expected {expected}")
    if len(candidates) > 1:
        raise UsageError(f"detection output {shown} fits both {expected}; give --box-format yolov5 or yolov8")
    return candidates[0]


def decode(output: np.ndarray, nc: int | None = None, box_format: str | None = None) -> list[Boxes]:
    """Every anchor of a raw head ``output`` as a candidate box, one ``Boxes`` per image.

    ``output``: float (B, N, 5 + nc) or (B, 4 + nc, N), see the module docstring and
    ``layout`` (which raises for a shape that fits neither or both). Boxes come back as xyxy
    in input pixels with the best class and its score; thresholds are ``nms``'s job.
    """
    fmt = layout(output.shape, nc, box_format)
    rows = np.asarray(output, dtype=np.float32)
    if fmt == "yolov8":
        rows = rows.transpose(0, 2, 1)
        cls = rows[..., 4:]
    else:
        cls = rows[..., 5:] * rows[..., 4:5]
    xy, half = rows[..., 0:2], rows[..., 2:4] / 2
    xyxy = np.concatenate([xy - half, xy + half], axis=-1)
    best = cls.argmax(axis=-1)
    score = np.take_along_axis(cls, best[..., None], axis=-1)[..., 0]
    return [Boxes(xyxy[b], best[b], score[b]) for b in range(len(rows))]


def box_iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box against (n, 4) others, no +1 on widths (as torchvision and COCO)."""
    w = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    h = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    inter = w * h
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(inter > 0, inter / (area + areas - inter), 0.0)


def nms(
    candidates: Boxes, conf: float = CONF, iou: float = IOU, max_det: int = MAX_DET, max_nms: int = MAX_NMS
) -> Boxes:
    """Per-class greedy NMS, in ultralytics/YOLOv5 ``non_max_suppression``'s order.

    Keep scores > ``conf``, then the ``max_nms`` best, then suppress, within a class, every box
    whose IoU with a better-scored kept box exceeds ``iou`` (torchvision's rule), and
    return at most ``max_det`` boxes, best first. Classes are kept apart by the same trick as
    both references: each class's boxes are shifted to their own region of the plane. The loop
    stops at ``max_det`` kept boxes, since greedy NMS keeps in score order.
    """
    kept = candidates.take(candidates.scores > conf)
    order = np.argsort(-kept.scores, kind="stable")[:max_nms]
    if not len(order):
        return kept
    boxes = kept.xyxy[order].astype(np.float64)
    span = boxes.max() - boxes.min() + 1
    boxes += (kept.classes[order] * span)[:, None]
    if len(order) <= MATRIX_NMS:
        return kept.take(order[_greedy_from_matrix(boxes, iou, max_det)])
    keep, rest = [], np.arange(len(order))
    while len(rest) and len(keep) < max_det:
        keep.append(rest[0])
        rest = rest[1:][box_iou(boxes[rest[0]], boxes[rest[1:]]) <= iou]
    return kept.take(order[keep])


def _greedy_from_matrix(boxes: np.ndarray, iou: float, max_det: int) -> list[int]:
    """The same greedy NMS over boxes sorted best first, from their pairwise IoU matrix: one
    vectorised (n, n) IoU, then a loop of boolean row lookups (3.5x faster than one ``box_iou``
    per kept box at 300 candidates)."""
    lo = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    hi = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        overlaps = np.where(inter > 0, inter / (area[:, None] + area[None, :] - inter), 0.0) > iou
    keep, suppressed = [], np.zeros(len(boxes), dtype=bool)
    for i in range(len(boxes)):
        if suppressed[i]:
            continue
        keep.append(i)
        if len(keep) == max_det:
            break
        suppressed |= overlaps[i]
    return keep
