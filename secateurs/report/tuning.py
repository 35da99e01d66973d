"""`sweep` and `sensitivity` as blocks: their table (terminal, .md) and their report.html page."""

from __future__ import annotations

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


def sweep_table(doc: dict) -> Table:
    """Amount, sparsity, each metric (with its delta against dense), each artifact's KiB."""
    rows = doc["rows"]
    label_metrics = [m for m in ("accuracy", "macro_precision", "macro_recall") if m in doc["dense"]]
    other = [m for m in ("top1_agreement", "cosine", "snr_db") if any(m in r["metrics"] for r in rows)]
    sizes = sorted({f for r in rows for f in r.get("sizes", {})})
    budget = any("within_budget" in r for r in rows)
    columns = [Column("amount", "number"), Column("sparsity", "percent")]
    columns += [Column(m, "number") for m in (*label_metrics, *other)]
    columns += [Column(f"{f} KiB", "number") for f in sizes]
    columns += [Column("budget", "verdict")] if budget else []
    body = []
    for r in rows:
        m, d = r["metrics"], r["deltas"]
        row = cells(f"{r['amount']:g}", fmt_pct(r["sparsity"]))
        row += [Cell(f"{fmt_pct(m[k])} ({100 * d[k]:+.2f})") for k in label_metrics]
        row += [
            Cell("-" if m.get(k) is None else f"{m[k]:.4f}" if k != "snr_db" else f"{m[k]:.1f} dB")
            for k in other
        ]
        row += [Cell(f"{r['sizes'][f] / 1024:.1f}" if f in r.get("sizes", {}) else "-") for f in sizes]
        if budget:
            within = bool(r.get("within_budget"))
            row.append(Cell("ok" if within else "over", verdict_tone(within)))
        body.append(row)
    return Table(columns, body)


def sensitivity_blocks(data: dict) -> list[Block]:
    """The drop table (points) and, with a budget, recipe vs uniform."""
    columns = [
        Column("layer"),
        Column("numel", "number"),
        *(Column(f"{a:g}", "number") for a in data["amounts"]),
    ]
    rows = [
        cells(name, str(numel), *(f"{d * 100:.1f}" for d in row))
        for name, numel, row in zip(data["layers"], data["numel"], data["drop"])
    ]
    blocks: list[Block] = [
        Paragraph([f"{data['metric']} (points) per layer pruned alone, {data['samples']} samples"]),
        Table(columns, rows),
    ]
    if "recipe" in data:
        r, u = data["recipe"], data["uniform"]
        lines = [
            f"budget {data.get('budget_option', data['budget'])} (a drop of at most {data['budget'] * 100:g} points):",
            f"recipe: sparsity {r['sparsity']:.1%}, measured drop {r['drop'] * 100:.2f} points",
            f"uniform: amount {u['amount']:g}, sparsity {u['sparsity']:.1%}, drop {u['drop'] * 100:.2f} points",
        ]
        blocks.append(Paragraph(lines))
    return blocks


def plots_page(title: str, blocks: list[Block], images: dict[str, bytes]) -> Document:
    """report.html of `sweep`/`sensitivity`: their plots, then their table."""
    plots = Section("Plots", [Image(caption, png) for caption, png in images.items()])
    return Document(title, [plots, Section("Table", blocks)])
