"""Plots of tuning results, as PNG files (matplotlib, Agg backend, imported on use)."""

from __future__ import annotations

import os
from pathlib import Path


def plot_sweep(
    rows: list[dict],
    path: Path,
    dense: dict,
    max_accuracy_drop: float | None = None,
    min_agreement: float | None = None,
) -> None:
    """Two panels over amount: the quality metric with the budget line, and artifact sizes.

    Accuracy is drawn when the data had labels, top-1 agreement otherwise. Written to a
    temporary name and renamed, so a reader never sees half a PNG.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    amounts = [r["amount"] for r in rows]
    labelled = "accuracy" in dense
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 7), sharex=True)
    try:
        if labelled:
            top.plot(amounts, [r["metrics"]["accuracy"] for r in rows], "o-", label="pruned accuracy")
            top.axhline(dense["accuracy"], color="grey", linestyle=":", label="dense accuracy")
            if max_accuracy_drop is not None:
                limit = dense["accuracy"] - max_accuracy_drop
                top.axhline(limit, color="red", linestyle="--", label=f"budget (drop <= {max_accuracy_drop})")
        agree = [r["metrics"].get("top1_agreement") for r in rows]
        if all(a is not None for a in agree) and (not labelled or min_agreement is not None):
            top.plot(amounts, agree, "s-", label="top-1 agreement with dense")
        if min_agreement is not None:
            top.axhline(
                min_agreement, color="darkred", linestyle="--", label=f"budget (agreement >= {min_agreement})"
            )
        top.set_ylabel("accuracy" if labelled else "top-1 agreement")
        top.grid(True, alpha=0.3)
        top.legend(fontsize="small")
        files = sorted({f for r in rows for f in r.get("sizes", {})})
        for f in files:
            bottom.plot(amounts, [r["sizes"].get(f, float("nan")) / 1024 for r in rows], "o-", label=f)
        bottom.set_xlabel("amount (fraction of each Conv2d weight pruned)")
        bottom.set_ylabel("artifact size (KiB)")
        bottom.grid(True, alpha=0.3)
        if files:
            bottom.legend(fontsize="small")
        fig.tight_layout()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
        try:
            fig.savefig(tmp, dpi=100)
            os.replace(tmp, path)
        except OSError as e:
            from secateurs.errors import OutputError

            raise OutputError(f"{path}: cannot write the plot ({e.strerror or e})") from e
        finally:
            tmp.unlink(missing_ok=True)
    finally:
        plt.close(fig)
