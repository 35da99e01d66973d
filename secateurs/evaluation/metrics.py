"""Metrics on model outputs, pure numpy. The first output is taken as [N, classes] scores.

With labels: top-1 accuracy, macro and per-class precision/recall, confusion matrix.
Always (label-free, for any model): top-1 (and top-5) agreement with the dense model,
mean cosine similarity of the outputs, and the signal-to-noise ratio in dB.
"""

from __future__ import annotations

import numpy as np


def classification(scores: np.ndarray, labels: np.ndarray, n_classes: int) -> dict:
    pred = scores.argmax(axis=1)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (labels, pred), 1)
    tp = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0)
    actual = confusion.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
    present = actual > 0
    return {
        "accuracy": float((pred == labels).mean()),
        "macro_precision": float(precision[present].mean()),
        "macro_recall": float(recall[present].mean()),
        "per_class": [
            {
                "class": c,
                "support": int(actual[c]),
                "precision": float(precision[c]),
                "recall": float(recall[c]),
            }
            for c in range(n_classes)
        ],
        "confusion": confusion.tolist(),
    }


def agreement(reference: np.ndarray, other: np.ndarray) -> dict:
    """How closely ``other`` follows ``reference`` on the same inputs."""
    ref = reference.reshape(reference.shape[0], -1).astype(np.float64)
    out = other.reshape(other.shape[0], -1).astype(np.float64)
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(out, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cosine = np.where(norms > 0, (ref * out).sum(axis=1) / norms, 1.0)
    noise = float(((ref - out) ** 2).sum())
    signal = float((ref**2).sum())
    result = {
        "cosine": float(cosine.mean()),
        "snr_db": float("inf")
        if noise == 0
        else 10 * np.log10(signal / noise)
        if signal > 0
        else float("-inf"),
    }
    if reference.ndim == 2 and reference.shape[1] > 1:
        ref_top1 = reference.argmax(axis=1)
        result["top1_agreement"] = float((ref_top1 == other.argmax(axis=1)).mean())
        if reference.shape[1] >= 5:
            top5 = np.argpartition(-other, 4, axis=1)[:, :5]
            result["top5_agreement"] = float((top5 == ref_top1[:, None]).any(axis=1).mean())
    return result


def compare(dense: np.ndarray, pruned: np.ndarray, labels: np.ndarray | None) -> dict:
    """Metrics of ``pruned`` against ``dense`` (and the labels, when given), with deltas."""
    result = {"agreement": agreement(dense, pruned)}
    if labels is not None and dense.ndim == 2:
        n_classes = max(dense.shape[1], int(labels.max()) + 1)
        d, p = classification(dense, labels, n_classes), classification(pruned, labels, n_classes)
        result["dense"] = d
        result["pruned"] = p
        result["delta"] = {k: p[k] - d[k] for k in ("accuracy", "macro_precision", "macro_recall")}
        losses = [
            {
                "class": a["class"],
                "recall_delta": b["recall"] - a["recall"],
                "precision_delta": b["precision"] - a["precision"],
            }
            for a, b in zip(d["per_class"], p["per_class"])
        ]
        result["classes_most_hurt"] = sorted(losses, key=lambda r: r["recall_delta"])[:5]
    return result
