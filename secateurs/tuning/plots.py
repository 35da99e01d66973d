"""Plots of tuning results, as PNG files (matplotlib, Agg backend, imported on use)."""

from __future__ import annotations

from pathlib import Path

from secateurs.figures import png_figure

# Every series gets its own marker and line style, so equal values never hide a line.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
STYLES = ("-", "--", "-.", ":")


def plot_sweep(
    rows: list[dict],
    path: Path,
    dense: dict,
    max_accuracy_drop: float | None = None,
    min_agreement: float | None = None,
) -> None:
    """Quality over amount (when the sweep had data) above artifact sizes over amount.

    The quality panel draws accuracy (labelled data) and/or top-1 agreement, the dense
    reference and the budget as labelled horizontal lines. The size panel draws each
    artifact as KiB with its own marker and line style. Legends sit outside the axes, so
    they never cover a series. Written atomically (files.write_bytes).
    """
    amounts = [r["amount"] for r in rows]
    labelled = "accuracy" in dense
    agree = [r["metrics"].get("top1_agreement") for r in rows]
    show_agreement = all(a is not None for a in agree) and (not labelled or min_agreement is not None)
    quality = labelled or show_agreement
    with png_figure(
        path, 2 if quality else 1, 1, figsize=(9, 7 if quality else 4), sharex=True, squeeze=False
    ) as (fig, axes):
        if quality:
            _quality_panel(
                axes[0][0], rows, amounts, dense, agree, show_agreement, max_accuracy_drop, min_agreement
            )
        _size_panel(axes[-1][0], rows, amounts)


def _quality_panel(ax, rows, amounts, dense, agree, show_agreement, max_accuracy_drop, min_agreement) -> None:
    levels = []
    if "accuracy" in dense:
        ax.plot(amounts, [r["metrics"]["accuracy"] for r in rows], "o-", label="pruned accuracy")
        ax.axhline(
            dense["accuracy"], color="grey", linestyle=":", label=f"dense accuracy {dense['accuracy']:.4f}"
        )
        levels.append(dense["accuracy"])
        if max_accuracy_drop is not None:
            limit = dense["accuracy"] - max_accuracy_drop
            ax.axhline(limit, color="red", linestyle="--", label=f"budget: accuracy >= {limit:.4f}")
            levels.append(limit)
    if show_agreement:
        ax.plot(amounts, agree, "s--", label="top-1 agreement with dense")
        ax.axhline(1.0, color="grey", linestyle=(0, (1, 3)), label="dense agreement 1.0")
        levels.append(1.0)
    if min_agreement is not None:
        ax.axhline(
            min_agreement, color="darkred", linestyle="-.", label=f"budget: agreement >= {min_agreement}"
        )
        levels.append(min_agreement)
    values = [v for line in ax.get_lines() for v in line.get_ydata()] + levels
    low, high = min(values), max(values)
    pad = max(0.02, 0.08 * (high - low))  # room above the top reference line
    ax.set_ylim(low - pad, high + pad)
    ax.set_ylabel("accuracy" if "accuracy" in dense else "top-1 agreement")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _size_panel(ax, rows, amounts) -> None:
    names = sorted({f for r in rows for f in r.get("sizes", {})})
    for i, name in enumerate(names):
        kib = [r["sizes"].get(name, float("nan")) / 1024 for r in rows]
        ax.plot(
            amounts,
            kib,
            marker=MARKERS[i % len(MARKERS)],
            linestyle=STYLES[i % len(STYLES)],
            markersize=7 - i % 3,
            label=name,
        )
    ax.set_xlabel("amount (fraction of each Conv2d weight pruned)")
    ax.set_ylabel("artifact size (KiB)")
    ax.grid(True, alpha=0.3)
    if names:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
