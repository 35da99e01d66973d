"""`sweep` and `sensitivity` as blocks: their table (terminal, .md) and their report.html page."""

from __future__ import annotations

from secateurs.config import DROP_METRICS
from secateurs.report.blocks import (
    Block,
    Cell,
    Column,
    Document,
    Image,
    Paragraph,
    Section,
    Table,
    cells,
    verdict_tone,
)
from secateurs.report.formats import fmt_pct

DETECT = DROP_METRICS["detect"]
HEADERS = {
    "accuracy": "accuracy (Δ points)",
    "macro_precision": "macro precision (Δ)",
    "macro_recall": "macro recall (Δ)",
    **{m: f"{m} (Δ points)" for m in DETECT},
    "top1_agreement": "top-1 agreement",
    "cosine": "cosine",
    "snr_db": "SNR",
}


def sweep_blocks(doc: dict) -> list[Block]:
    """What was swept, then the quality table (metrics with their delta against dense, in
    points) and the size table (KiB of every artifact), each narrow enough for a page."""
    rows = doc["rows"]
    channels = doc.get("structure") == "channels"
    cut = (
        " (channels removed" + (f", counts rounded to {doc['round_to']}" if doc.get("round_to") else "") + ")"
    )
    context = [
        f"{doc['model']}, {len(rows)} amounts, {doc['scope']} scope{cut if channels else ''},"
        f" sizes from the {doc['exporter']} exporter"
    ]
    if doc.get("eval"):
        e = doc["eval"]
        context.append(f"data: {e['data']}, {e['samples']} samples{'' if e['labels'] else ' (no labels)'}")
    budget = {k: v for k, v in doc["budget"].items() if v is not None and k != "max_drop"}
    budget.update({f"max {m} drop": v for m, v in doc["budget"].get("max_drop", {}).items()})
    if budget:
        chosen = doc["largest_amount_within_budget"]
        said = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in budget.items())
        context.append(
            f"budget: {said}; largest amount within it: {'none' if chosen is None else f'{chosen:g}'}"
        )
    blocks: list[Block] = [Paragraph(context)]
    quality = _quality_table(doc)
    if quality is not None:
        blocks.append(quality)
    if channels:
        blocks.append(_cost_table(doc))
    blocks += _latency_blocks(rows)
    sizes = sorted({f for r in rows for f in r.get("sizes", {})})
    if sizes:
        columns = [Column("amount", "number"), Column(_sparsity(doc), "percent")]
        columns += [Column(f, "number") for f in sizes]
        body = [
            cells(f"{r['amount']:g}", fmt_pct(r["sparsity"]))
            + [Cell(f"{r['sizes'][f] / 1024:,.1f}" if f in r.get("sizes", {}) else "-") for f in sizes]
            for r in rows
        ]
        blocks += [
            Paragraph(["artifact sizes in KiB (1,024 bytes), written by the real exporters"]),
            Table(columns, body),
        ]
    if doc.get("notes"):
        blocks.append(Paragraph(doc["notes"]))
    return blocks


def _latency_blocks(rows: list[dict]) -> list[Block]:
    """Each amount's model.onnx against the dense original in onnxruntime (``sweep.time_against``)."""
    timed = [r for r in rows if r.get("latency")]
    if not timed:
        return []
    first = timed[0]["latency"]
    columns = [
        Column("amount", "number"),
        Column("dense (ms)", "number"),
        Column("model.onnx (ms)", "number"),
    ]
    columns.append(Column("x faster than dense", "number"))
    body = []
    for r in timed:
        t = r["latency"]
        if "error" in t:
            body.append(cells(f"{r['amount']:g}", "-", "-", t["error"]))
            continue
        said = f"{t['speedup']:.2f}x" + (" (within the noise)" if t["spreads_overlap"] else "")
        body.append(cells(f"{r['amount']:g}", f"{t['dense_ms']:.2f}", f"{t['pruned_ms']:.2f}", said))
    runs = next((r["latency"]["runs"] for r in timed if "runs" in r["latency"]), 0)
    return [
        Paragraph(
            [
                f"onnxruntime latency at batch {first['batch']}: each amount's model.onnx and the dense"
                f" original, interleaved, 5 warm-up then {runs} timed runs each, median (it varies run to"
                ' run); "within the noise": the p10-p90 spreads overlap, fewer than 5 runs, or a dense'
                " median under 0.1 ms (call overhead)"
            ]
        ),
        Table(columns, body),
    ]


def _sparsity(doc: dict) -> str:
    """The sparsity column's name: with channels it is the share of conv weights removed."""
    return "conv weights removed" if doc.get("structure") == "channels" else "sparsity"


def _cost_table(doc: dict) -> Table:
    """Channels: what each amount leaves of the dense model's parameters and MACs (per
    sample, Conv2d and Linear layers), the compute that channel pruning removes."""
    dense = doc.get("dense_cost") or {}
    columns = [Column("amount", "number"), Column(_sparsity(doc), "percent")]
    columns += [Column("parameters", "number"), Column("of dense", "percent")]
    columns += [Column("MACs (M)", "number"), Column("of dense", "percent")]
    body = []
    for r in doc["rows"]:
        row = cells(f"{r['amount']:g}", fmt_pct(r["sparsity"]))
        for key, scale, fmt in (("params", 1, "{:,}"), ("macs", 1e6, "{:,.2f}")):
            value, full = r.get(key), dense.get(key)
            row.append(Cell("-" if value is None else fmt.format(value / scale if scale != 1 else value)))
            row.append(Cell(fmt_pct(value / full) if value is not None and full else "-"))
        body.append(row)
    return Table(columns, body)


def _quality_table(doc: dict) -> Table | None:
    """Amount, sparsity, each metric (label metrics with their delta in points), the budget."""
    rows = doc["rows"]
    label_metrics = [m for m in ("accuracy", "macro_precision", "macro_recall", *DETECT) if m in doc["dense"]]
    other = [m for m in ("top1_agreement", "cosine", "snr_db") if any(m in r["metrics"] for r in rows)]
    if not doc["dense"]:  # label-free detection: each metric against the dense model's detections
        other += [m for m in DETECT if any(m in r["metrics"] for r in rows)]
    if not label_metrics and not other:
        return None
    budget = any("within_budget" in r for r in rows)
    columns = [Column("amount", "number"), Column(_sparsity(doc), "percent")]
    columns += [Column(HEADERS[m], "number") for m in label_metrics]
    columns += [Column(f"{m} vs dense boxes" if m in DETECT else HEADERS[m], "number") for m in other]
    columns += [Column("budget", "verdict")] if budget else []
    body = []
    for r in rows:
        m, d = r["metrics"], r["deltas"]
        row = cells(f"{r['amount']:g}", fmt_pct(r["sparsity"]))
        row += [Cell(f"{fmt_pct(m[k])} ({100 * d[k]:+.2f})") for k in label_metrics]
        row += [
            Cell("-" if m.get(k) is None else f"{m[k]:.4f}" if k != "snr_db" else f"{float(m[k]):.1f} dB")
            for k in other
        ]
        if budget:
            within = bool(r.get("within_budget"))
            row.append(Cell("ok" if within else "over", verdict_tone(within)))
        body.append(row)
    return Table(columns, body)


def sensitivity_blocks(data: dict) -> list[Block]:
    """The drop table (points, one column per amount, each layer pruned alone) with the
    recipe's amount per layer when a budget was given, then recipe against uniform."""
    recipe = data.get("recipe")
    columns = [
        Column("layer"),
        Column("weights", "number"),
        *(Column(f"drop @ {a:g}", "number") for a in data["amounts"]),
    ]
    columns += [Column("recipe amount", "number")] if recipe else []
    rows = []
    for name, numel, row in zip(data["layers"], data["numel"], data["drop"]):
        line = cells(name, f"{numel:,}", *(f"{d * 100:.1f}" for d in row))
        if recipe:
            line.append(Cell(f"{recipe['layers'][name]:g}"))
        rows.append(line)
    blocks: list[Block] = [
        Paragraph(
            [
                f"{data['model']} on {data['data']} ({data['samples']} samples): {data['metric']} in points"
                " when each layer alone is pruned to the amount of its column"
            ]
        ),
        Table(columns, rows),
    ]
    if recipe:
        u = data["uniform"]
        lines = [
            f"budget {data.get('budget_option', data['budget'])} (a drop of at most {_points(data['budget'])}):",
            f"recipe (recipe.json): sparsity {recipe['sparsity']:.1%}, measured drop {recipe['drop'] * 100:.2f} points"
            + _params(recipe),
            f"uniform: amount {u['amount']:g}, sparsity {u['sparsity']:.1%}, drop {u['drop'] * 100:.2f} points"
            + _params(u),
        ]
        blocks.append(Paragraph(lines))
    return blocks


def _params(found: dict) -> str:
    """ ", N parameters" where channels were cut (the model's parameters after), else ""."""
    return f", {found['params']:,} parameters" if "params" in found else ""


def plots_page(title: str, blocks: list[Block], images: dict[str, bytes]) -> Document:
    """report.html of `sweep`/`sensitivity`: their plots, then their table."""
    plots = Section("Plots", [Image(caption, png) for caption, png in images.items()])
    return Document(title, [plots, Section("Table", blocks)])


def _points(fraction: float) -> str:
    points = fraction * 100
    return f"{points:g} point" + ("" if points == 1 else "s")
