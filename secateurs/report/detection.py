"""The Task evaluation section of a detector: precision, recall, mAP50 and mAP50-95, dense
against pruned (PyTorch and model.onnx), per-class AP, and the thresholds they were read at."""

from __future__ import annotations

from secateurs.config import DROP_METRICS
from secateurs.report.blocks import Cell, Column, Paragraph, Table, sign_tone

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
