"""The Task evaluation section of a detector: precision, recall, mAP50 and mAP50-95, dense
against pruned (PyTorch and model.onnx), per-class AP, and the thresholds they were read at."""

from __future__ import annotations

from secateurs.config import DROP_METRICS
from secateurs.report.blocks import Cell, Column, Image, Paragraph, Table, sign_tone

METRICS = DROP_METRICS["detect"]
COLUMNS = [Column("model"), *(Column(m, "number") for m in METRICS)]
DROP_COLUMNS = [Column("drop, dense - pruned"), *(Column(m, "delta") for m in METRICS)]


def ap_columns(judged: str) -> list[Column]:
    return [
        Column("class"),
        Column("AP50 dense", "number"),
        Column(f"AP50 pruned {judged}", "number"),
        Column("AP50-95 dense", "number"),
        Column(f"AP50-95 pruned {judged}", "number"),
    ]


def blocks(ev: dict) -> list:
    """Tables and notes for ``ev`` (report.json's ``evaluation`` with ``task`` detect)."""
    results = ev["results"]
    nms = ev["nms"]
    out = [
        Paragraph(
            [
                f"data: {ev['data']} ({ev['samples']} images, {'labelled' if ev['labels'] else 'label-free'});"
                f" NMS per class: confidence >= {nms['conf']}, IoU {nms['iou']}, at most {nms['max_det']}"
                " detections per image; mAP50-95 averages IoU 0.50:0.05:0.95 (COCOeval, faster-coco-eval);"
                " precision and recall (IoU 0.5) "
                + (
                    "at the confidence that maximises mean F1"
                    if ev["labels"]
                    else f"of the detections scoring >= {_reference_conf(results)}"
                )
            ]
        )
    ]
    if ev["labels"]:
        first = next(iter(results.values()))
        rows = [_row("dense pytorch", first["dense"])]
        rows += [_row(f"pruned {judged}", r["pruned"]) for judged, r in results.items()]
        out.append(Table(COLUMNS, rows))
        judged = "onnx" if "onnx" in results else next(iter(results))
        out.append(Table(ap_columns(judged), _ap_rows(first["dense"], results[judged]["pruned"])))
    else:
        out.append(Paragraph([ev["reference"]], role="note"))
        rows = [_row(f"pruned {judged} vs dense", r["agreement"]) for judged, r in results.items()]
        out.append(Table(COLUMNS, rows))
    drops = [[Cell(judged), *(_drop(r["drop"][m]) for m in METRICS)] for judged, r in results.items()]
    out.append(Table(DROP_COLUMNS, drops))
    return out


def picture_files(ev: dict) -> list[str]:
    """The PNG files the evaluation drew into the run directory (bare names, never a path)."""
    pics = ev.get("pictures") or {}
    names = [(pics.get(k) or {}).get("file") for k in ("pr_curves", "boxes")]
    return [
        n for n in names if isinstance(n, str) and n and n == n.rsplit("/", 1)[-1] and n not in (".", "..")
    ]


def pictures(ev: dict, images: dict[str, bytes] | None) -> list:
    """A line naming the picture files (every rendering), then the pictures themselves (HTML
    only) for those of ``images`` (file name -> PNG bytes) that were found."""
    pics = ev.get("pictures")
    if not pics:
        return []
    images = images or {}
    judged = pics["judged"]
    curves, boxes = pics["pr_curves"], pics["boxes"]
    shown = boxes["images"]
    line = (
        f"pictures (in report.html): {curves['file']} (precision-recall curves, dense against pruned {judged}),"
        f" {boxes['file']} ({len(shown)} images with both models' boxes)"
    )
    out: list = [Paragraph([line])]
    if curves["file"] in images:
        out.append(Image(_curves_caption(ev, curves, judged), images[curves["file"]]))
    if boxes["file"] in images:
        out.append(Image(_boxes_caption(ev, boxes, judged), images[boxes["file"]]))
    return out


def _curves_caption(ev: dict, curves: dict, judged: str) -> str:
    total = len(next(iter(ev["results"].values()))["pruned" if ev["labels"] else "agreement"]["per_class_ap"])
    which = (
        "each class"
        if len(curves["classes"]) == total
        else f"the {len(curves['classes'])} of {total} classes whose AP50 dropped most"
    )
    if ev["labels"]:
        return (
            f"Precision against recall at IoU 0.5 (COCOeval, 101 recall points), dense PyTorch (solid) against"
            f" pruned {judged} (dashed): the mean over classes (its area is mAP50) and {which}; legends give AP50."
        )
    return (
        f"Label-free: precision against recall at IoU 0.5 of pruned {judged} (dashed), scored against the dense"
        f" model's detections scoring >= {_reference_conf(ev['results'])} as labels; the dense model is that"
        " reference (dotted line at 1.0),"
        f" not a measurement. The mean over classes and {which}."
    )


def _boxes_caption(ev: dict, boxes: dict, judged: str) -> str:
    truth = "ground truth dashed black-and-white; " if ev["labels"] else "no labels, so no ground truth; "
    return (
        f"The {len(boxes['images'])} images where dense PyTorch and pruned {judged} disagree most, each drawn"
        f" on the original image for both: {truth}detections scoring >= {boxes['conf']} in their class's"
        f" colour, tagged with class and score when they score >= {boxes['tag_conf']} (the"
        f" {boxes['max_tags']} best per panel). Chosen by the count of boxes scoring >= {boxes['conf']}"
        f" in either model with no box of the same class at IoU >= {boxes['match_iou']} in the other's,"
        " most first; ties go to the earlier image."
    )


def _row(label: str, m: dict) -> list[Cell]:
    return [Cell(label), *(Cell(f"{m[k]:.4f}") for k in METRICS)]


def _drop(value: float) -> Cell:
    return Cell(f"{value:+.4f}", sign_tone(-value))


def _ap_rows(dense: dict, pruned: dict) -> list[list[Cell]]:
    rows = []
    for name, d in dense["per_class_ap"].items():
        p = pruned["per_class_ap"].get(name, {"AP50": 0.0, "AP50-95": 0.0})
        rows.append(
            [Cell(name), *(Cell(f"{v:.4f}") for v in (d["AP50"], p["AP50"], d["AP50-95"], p["AP50-95"]))]
        )
    return rows


def _reference_conf(results: dict) -> float:
    return next(iter(results.values()))["agreement"]["thresholds"]["reference_conf"]
