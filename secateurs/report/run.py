"""The run report as blocks, from report.json's data: one Document for the terminal summary,
report.md, report.html and the GitHub step summary.

Timings are passed in, not read from the data: report.md and report.html are hashed and
leave them out, while the terminal and the step summary show this run's.
"""

from __future__ import annotations

from secateurs.report.blocks import (
    Bar,
    Cell,
    Column,
    Document,
    Image,
    Items,
    Paragraph,
    Section,
    Stat,
    Table,
    Verdict,
    cells,
    verdict_tone,
)
from secateurs.report.checks import evaluation_section, validation_section
from secateurs.report.formats import fmt_bytes, fmt_pct
from secateurs.report.sizes import size_section

TIMINGS_ELSEWHERE = (
    "Stage timings are in manifest.json (run.timings_s), outside the hashed files,"
    " so that identical runs write identical reports."
)
SPARSITY_LABELS = {
    "pruned_tensors": "sparsity over pruned Conv2d weights",
    "all_parameters": "sparsity over all parameters",
}


def document(
    report: dict, timings: dict[str, float] | None = None, images: dict[str, bytes] | None = None
) -> Document:
    """``images`` (caption -> PNG bytes: sweep/sensitivity plots) only show in HTML."""
    model = report.get("model") or {}
    status = str(report.get("status", "?"))
    sections = [
        Section("Summary", [summary(report)]),
        Section("Per-layer sparsity", layers(report)),
        Section("Artifacts", [artifacts(report)]),
        Section("Size ledger", size_section(report.get("sizes"))),
        validation_section(report),
        evaluation_section(report.get("evaluation")),
    ]
    if images:
        sections.append(Section("Sweep and sensitivity", [Image(c, png) for c, png in images.items()]))
    sections += [
        Section("Stage timings", [stage_timings(timings) if timings else Paragraph([TIMINGS_ELSEWHERE])]),
        Section("Versions", [Paragraph([", ".join(f"{k} {v}" for k, v in report["versions"].items())])]),
    ]
    return Document(
        f"secateurs report: {model.get('spec', '?')}",
        sections,
        status=status,
        status_tone=verdict_tone(status == "passed"),
        notes=[str(n) for n in model.get("notes") or []],
    )


def summary(report: dict) -> Items:
    cfg = report["config"]
    items: list = [
        f"model {report['model']['spec']}  amount {cfg['amount']}  scope {cfg['scope']}  exporter {cfg['exporter']}"
    ]
    if cfg.get("settings_file"):
        given = ", ".join(cfg.get("settings_from_file") or ()) or "no values"
        items.append(f"settings: {cfg['settings_file']} gave {given}; flags override it")
    for key, label in SPARSITY_LABELS.items():
        s = report["sparsity"][key]
        items.append(
            Stat(label, fmt_pct(s["sparsity"]), f"{s['zeros']:,} / {s['numel']:,}", s["denominator"], "zeros")
        )
    v = report.get("validation")
    if v is None:
        items.append(Verdict("validation", "not run"))
    else:
        items.append(Verdict("validation", "PASSED" if v["passed"] else "FAILED", verdict_tone(v["passed"])))
    items.append(Paragraph([report["performance_note"]], role="note"))
    return Items(items)


LAYER_COLUMNS = [
    Column("layer"),
    Column("shape"),
    Column("weights", "number"),
    Column("target", "percent"),
    Column("achieved (bar) / target (tick)", "bar"),
    Column("achieved", "percent"),
    Column("zeros before", "number"),
]


def layers(report: dict) -> list:
    rows = [
        [
            Cell(r["name"]),
            Cell("x".join(map(str, r["shape"]))),
            Cell(f"{r['numel']:,}"),
            Cell(fmt_pct(r["target"])),
            Bar(_fraction(r["sparsity"]), _fraction(r["target"])),
            Cell(fmt_pct(r["sparsity"])),
            Cell(f"{r['zeros_before']:,}"),
        ]
        for r in report["layers"]
    ]
    rows += [
        [
            Cell(r["name"]),
            Cell("x".join(map(str, r["shape"]))),
            Cell(f"{r['numel']:,}"),
            Cell("excluded"),
            Bar(_fraction(r["sparsity"])),
            Cell(fmt_pct(r["sparsity"])),
            Cell(f"{r['zeros_before']:,}"),
        ]
        for r in report.get("excluded_layers", [])  # --exclude kept these whole
    ]
    legend = Paragraph(["bar: achieved sparsity (0–100%); black tick: target"], role="legend", rich=True)
    return [legend, Table(LAYER_COLUMNS, rows)]


def artifacts(report: dict) -> Table:
    columns = [
        Column("file"),
        Column("size", "bytes"),
        Column("what it is", "prose"),
        Column("accepted by", "prose"),
    ]
    rows = [
        cells(a["file"], fmt_bytes(a["size"]), a["description"], a.get("accepted_by", ""))
        for a in report["artifacts"]
    ]
    return Table(columns, rows)


def stage_timings(timings: dict[str, float]) -> Table:
    return Table(
        [Column("stage"), Column("time", "number")], [cells(k, f"{v:.2f} s") for k, v in timings.items()]
    )


def _fraction(x) -> float:
    try:
        return max(0.0, min(1.0, float(x)))
    except (TypeError, ValueError):
        return 0.0
