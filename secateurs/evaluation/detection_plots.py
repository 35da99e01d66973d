"""Precision-recall curves at IoU 0.5, dense (solid) against pruned (dashed), as one PNG.

Small multiples: the mean over classes first (its area is mAP50), then one panel per class,
each with AP50 in its legend. Past ``MAX_CLASSES`` classes, only those whose AP50 dropped most
get a panel, and the mean panel's title says so. The curves are ``pr_curves`` of report.json's
metrics (COCOeval's interpolated precision at 101 recall points). Label-free, the pruned curve
is scored against the dense model's detections, so the dense curve would be 1.0 everywhere:
it is drawn as that reference line, not as a measurement.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from secateurs.evaluation.detection_metrics import RECALL_POINTS, REFERENCE_CONF
from secateurs.figures import png_figure

FILENAME = "eval_pr_curves.png"
MAX_CLASSES = 7  # class panels beside the mean one (2 rows of 4 panels at most)
COLS = 4
WIDTH = 11.3  # inches at 100 dpi: 1130 px, inside report.html's 1136 px for a picture (no scaling)
DENSE, PRUNED = "#0969da", "#cf222e"


def classes_shown(dense_ap: dict, pruned_ap: dict) -> list[str]:
    """Every class when there are few; else the MAX_CLASSES whose AP50 dropped most (ties: name order)."""
    names = list(pruned_ap)
    if len(names) <= MAX_CLASSES:
        return names
    drop = {n: (dense_ap[n]["AP50"] if dense_ap else 1.0) - pruned_ap[n]["AP50"] for n in names}
    return sorted(names, key=lambda n: (-drop[n], n))[:MAX_CLASSES]


def write(path: Path, result: dict, judged: str) -> list[str]:
    """Draw ``result`` (one judged model's entry of report.json's detection ``results``: labelled
    {"dense", "pruned"} or label-free {"agreement"}) to ``path``; returns the classes drawn."""
    labelled = "dense" in result
    pruned = result["pruned"] if labelled else result["agreement"]
    dense = result["dense"] if labelled else None
    shown = classes_shown(dense["per_class_ap"] if dense else {}, pruned["per_class_ap"])
    total = len(pruned["per_class_ap"])
    panels = 1 + len(shown)
    cols = 3 if panels in (5, 6) else min(COLS, panels)
    rows = -(-panels // cols)
    titles = []
    if not labelled:
        titles.append(
            f"label-free: pruned scored against the dense model's detections (>= {REFERENCE_CONF}) as labels"
        )
    if len(shown) < total:
        titles.append(f"the mean over all {total} classes, and the {len(shown)} whose AP50 dropped most")
    head = 0.35 if titles else 0.0  # inches for the title line
    width, height = WIDTH, 2.75 * rows + 0.25 + head
    with png_figure(
        path, rows, cols, figsize=(width, height), sharex=True, sharey=True, squeeze=False, tight=False
    ) as (fig, axes):
        # fixed margins in inches: tight_layout would measure every text (a third of the time)
        fig.subplots_adjust(
            left=0.6 / width,
            right=1 - 0.15 / width,
            bottom=0.5 / height,
            top=1 - (0.3 + head) / height,
            wspace=0.1,
            hspace=0.3,
        )
        _panel(
            axes[0][0],
            "mean over classes",
            _mean(dense),
            _mean(pruned),
            dense and dense["mAP50"],
            pruned["mAP50"],
            judged,
            "mAP50",
        )
        for k, name in enumerate(shown, 1):
            _panel(
                axes[k // cols][k % cols],
                f"class {name}" if name.isdigit() else name,  # unnamed classes are numbers
                dense and dense["pr_curves"].get(name),
                pruned["pr_curves"][name],
                dense and dense["per_class_ap"].get(name, {}).get("AP50"),
                pruned["per_class_ap"][name]["AP50"],
                judged,
                "AP50",
            )
        for k in range(panels, rows * cols):
            axes[k // cols][k % cols].axis("off")
        for k in range(panels):
            ax = axes[k // cols][k % cols]
            if k % cols == 0:
                ax.set_ylabel("precision", fontsize=9)
            if k + cols >= panels:  # nothing drawn below it
                ax.set_xlabel("recall", fontsize=9)
                ax.xaxis.set_tick_params(labelbottom=True)
        if titles:
            fig.suptitle("; ".join(titles), fontsize=10)
    return shown


def _mean(metrics: dict | None) -> list[float] | None:
    if metrics is None:
        return None
    return np.mean([metrics["pr_curves"][n] for n in metrics["pr_curves"]], axis=0).tolist()


def _panel(ax, title, dense, pruned, dense_ap, pruned_ap, judged, ap_name) -> None:
    if dense is not None:
        ax.plot(RECALL_POINTS, dense, "-", color=DENSE, lw=1.8, label=f"dense  {ap_name} {dense_ap:.3f}")
    else:  # label-free: the dense detections are the reference, so dense scores 1.0
        ax.axhline(1.0, color=DENSE, lw=1.2, ls=":", label="dense = reference")
    ax.plot(
        RECALL_POINTS, pruned, "--", color=PRUNED, lw=1.8, label=f"pruned {judged}  {ap_name} {pruned_ap:.3f}"
    )
    ax.set_title(title, fontsize=10)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.tick_params(labelsize=8)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
