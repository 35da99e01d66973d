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
    budgets=(),
    task: str | None = None,
    dense_cost: dict | None = None,
) -> None:
    """Quality over amount (when the sweep had data) above artifact sizes over amount.

    The quality panel draws what the data can judge: a classifier's accuracy (labelled data)
    and/or top-1 agreement; a detector's mAP50 and mAP50-95 (label-free: against the dense
    model's detections). Each comes with its dense reference and the budgets on it
    (``budgets``: (metric, largest drop)) as labelled horizontal lines. The size panel draws
    each artifact as KiB with its own marker and line style. Legends sit outside the axes, so
    they never cover a series. With ``dense_cost`` (channels: {params, macs}) a middle panel
    draws the parameters and MACs left, in % of dense. Written atomically (files.write_bytes).
    """
    amounts = [r["amount"] for r in rows]
    series = _quality_series(rows, dense, budgets, task)
    cost = dense_cost if dense_cost and all("params" in r for r in rows) else None
    panels = 1 + bool(series) + bool(cost)
    with png_figure(path, panels, 1, figsize=(9, 3.5 * panels), sharex=True, squeeze=False) as (fig, axes):
        if series:
            _quality_panel(axes[0][0], amounts, series, budgets)
        if cost:
            _cost_panel(axes[-2][0], rows, amounts, cost)
        _size_panel(axes[-1][0], rows, amounts, "channels" if cost else "weights")


def _cost_panel(ax, rows, amounts, dense_cost: dict) -> None:
    """Channels: parameters and MACs left, as a percentage of the dense model's."""
    for i, (key, label) in enumerate((("params", "parameters"), ("macs", "MACs per sample"))):
        if dense_cost.get(key) and all(key in r for r in rows):
            left = [100 * r[key] / dense_cost[key] for r in rows]
            ax.plot(amounts, left, marker=MARKERS[i], linestyle=STYLES[i], label=label)
    ax.set_ylabel("% of dense")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _quality_series(rows, dense, budgets, task) -> list[tuple[str, str, list, float]]:
    """(budget name, label, values per amount, dense value) for each line of the quality panel."""
    limits = dict(budgets)
    if task == "detect":
        against = "" if dense else " vs dense boxes"
        return [
            (m, f"pruned {m}{against}", [r["metrics"].get(m) for r in rows], dense.get(m, 1.0))
            for m in ("mAP50", "mAP50-95")
            if all(m in r["metrics"] for r in rows)
        ]
    series = []
    if "accuracy" in dense:
        series.append(
            ("accuracy", "pruned accuracy", [r["metrics"]["accuracy"] for r in rows], dense["accuracy"])
        )
    agree = [r["metrics"].get("top1_agreement") for r in rows]
    if all(a is not None for a in agree) and ("accuracy" not in dense or "agreement" in limits):
        series.append(("agreement", "top-1 agreement with dense", agree, 1.0))
    return series


def _quality_panel(ax, amounts, series, budgets) -> None:
    limits, levels = dict(budgets), []
    for i, (name, label, values, reference) in enumerate(series):
        line = ax.plot(amounts, values, marker=MARKERS[i], linestyle=STYLES[i], label=label)[0]
        ax.axhline(reference, color=line.get_color(), linestyle=":", label=f"dense {name} {reference:.4f}")
        levels.append(reference)
        if name in limits:
            floor = reference - limits[name]
            ax.axhline(floor, color="red", linestyle="--", label=f"budget: {name} >= {floor:.4f}")
            levels.append(floor)
    values = [v for line in ax.get_lines() for v in line.get_ydata()] + levels
    low, high = min(values), max(values)
    pad = max(0.02, 0.08 * (high - low))  # room above the top reference line
    ax.set_ylim(low - pad, high + pad)
    ax.set_ylabel(", ".join(name for name, *_ in series))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _size_panel(ax, rows, amounts, what: str = "weights") -> None:
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
    ax.set_xlabel(
        "amount (fraction of each Conv2d group's output channels removed)"
        if what == "channels"
        else "amount (fraction of each Conv2d weight pruned)"
    )
    ax.set_ylabel("artifact size (KiB)")
    ax.grid(True, alpha=0.3)
    if names:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))


def plot_tradeoff(rows: list[dict], path: Path, dense: dict, task: str | None = None) -> bool:
    """The sweep's trade-off: each amount as a point, its quality (the first series of the
    quality panel: accuracy, agreement or mAP50) against its onnxruntime speed-up over the dense
    original (left) and against its model.onnx size in KiB (right), the dense model at 1.00x
    and its own size. False (nothing written) without quality or latency for every row."""
    series = _quality_series(rows, dense, (), task)
    timed = [r.get("latency") or {} for r in rows]
    if (
        not series
        or not all("speedup" in t for t in timed)
        or not all("model.onnx" in r.get("sizes", {}) for r in rows)
    ):
        return False
    name, label, values, reference = series[0]
    speedups = [t["speedup"] for t in timed]
    kib = [r["sizes"]["model.onnx"] / 1024 for r in rows]
    with png_figure(path, 1, 2, figsize=(11, 4), squeeze=False) as (fig, axes):
        for ax, xs, xlabel in (
            (axes[0][0], speedups, f"x faster than dense, onnxruntime batch {timed[0]['batch']} (median)"),
            (axes[0][1], kib, "model.onnx size (KiB)"),
        ):
            ax.plot(xs, values, marker="o", linestyle="-", label=label)
            for x, y, r in zip(xs, values, rows):
                ax.annotate(
                    f"{r['amount']:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize="small"
                )
            ax.axhline(reference, linestyle=":", color="gray", label=f"dense {name} {reference:.4f}")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(name)
            ax.margins(x=0.1)
            ax.grid(True, alpha=0.3)
        axes[0][0].axvline(1.0, linestyle=":", color="gray")
        axes[0][1].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return True
