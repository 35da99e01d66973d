"""The Validation and Task evaluation sections: every check and gate with its verdict."""

from __future__ import annotations

from secateurs.report import detection
from secateurs.report.blocks import Cell, Column, Paragraph, Section, Table, sign_tone, verdict_tone
from secateurs.report.formats import fmt_num
from secateurs.validators.results import verdict_word

CHECK_COLUMNS = [
    Column("artifact"),
    Column("check"),
    Column("verdict", "verdict"),
    Column("max abs", "number"),
    Column("max rel", "number"),
    Column("bad", "number"),
    Column("detail", "prose"),
]
EVAL_COLUMNS = [
    Column("model"),
    Column("dense acc", "number"),
    Column("pruned acc", "number"),
    Column("Δ acc", "delta"),
    Column("Δ macro P", "delta"),
    Column("Δ macro R", "delta"),
    Column("top-1 agree", "number"),
    Column("top-5 agree", "number"),
    Column("cosine", "number"),
    Column("SNR dB", "number"),
]


def validation_section(report: dict) -> Section:
    v = report.get("validation")
    if not v:
        return Section("Validation", [Paragraph(["not run"])])
    shapes = ", ".join(v.get("shapes", [])) or "?"
    provider = v.get("provider", "CPUExecutionProvider")
    tolerances = v.get("tolerances") or {provider: report["config"]}
    used = tolerances.get(provider) or tolerances.get("accelerator", report["config"])
    per_provider = "; ".join(
        f"{name}: atol {t['atol']:g}, rtol {t['rtol']:g}" for name, t in tolerances.items()
    )
    head = (
        f"input shapes: {shapes}; onnxruntime provider: {provider};"
        f" tolerance used: atol {used['atol']:g}, rtol {used['rtol']:g} (per provider: {per_provider})"
    )
    count = f"{v.get('n_checks', len(v.get('checks', [])))} checks, {v.get('n_failed', 0)} failed"
    if v.get("n_not_applicable"):
        count += f", {v['n_not_applicable']} not applicable"
    return Section(
        "Validation", [Paragraph([head]), Paragraph([count], rich=True), Table(CHECK_COLUMNS, check_rows(v))]
    )


def check_rows(validation: dict) -> list[list]:
    rows = []
    for c in validation.get("checks", []):
        outs = c.get("outputs") or []
        max_abs = max((float(o["max_abs"]) for o in outs), default=None)
        max_rel = max((float(o["max_rel"]) for o in outs), default=None)
        rows.append(
            [
                Cell(c["artifact"]),
                Cell(c["name"]),
                _verdict(c),
                Cell(fmt_num(max_abs, ".2e")),
                Cell(fmt_num(max_rel, ".2e")),
                Cell(str(sum(o["n_bad"] for o in outs)) if outs else ""),
                Cell(c.get("detail", "")),
            ]
        )
    return rows


def _verdict(check: dict) -> Cell:
    """PASS, FAIL, or n/a (nothing to check; the detail gives the reason), never toned as a pass."""
    applicable = check.get("applicable", True)
    return Cell(
        verdict_word(check["passed"], applicable), verdict_tone(check["passed"] if applicable else None)
    )


def evaluation_section(ev: dict | None, images: dict[str, bytes] | None = None) -> Section:
    """``images``: the run directory's evaluation pictures (file name -> PNG bytes), HTML only."""
    if not ev:
        return Section("Task evaluation", [Paragraph(["not run (--eval DATA)"])])
    if ev.get("task") == "detect":
        gate_lines = _gate_lines(ev, attach_first=False)
        return Section(
            "Task evaluation", [*detection.blocks(ev), *gate_lines, *detection.pictures(ev, images)]
        )
    data = f"data: {ev['data']} ({ev['samples']} samples, {'labelled' if ev['labels'] else 'label-free'})"
    blocks = [
        Paragraph([data]),
        Table(EVAL_COLUMNS, [_eval_row(judged, r) for judged, r in ev["results"].items()]),
    ]
    hurt = next((r["classes_most_hurt"] for r in ev["results"].values() if "classes_most_hurt" in r), None)
    if hurt:
        lost = [f"{h['class']} ({h['recall_delta']:+.3f})" for h in hurt if h["recall_delta"] < 0]
        blocks.append(Paragraph(["classes that lost the most recall: " + (", ".join(lost) or "none")]))
    return Section("Task evaluation", [*blocks, *_gate_lines(ev)])


def _gate_lines(ev: dict, attach_first: bool = True) -> list[Paragraph]:
    """One line per gate; the first starts its own block after a table (markdown would read an
    attached line as one more table row)."""
    return [
        Paragraph(
            [f"gate {'PASS' if g['passed'] else 'FAIL'} ({g['judged']}): {g['detail']}"],
            tone=verdict_tone(g["passed"]),
            attached=attach_first or i > 0,
        )
        for i, g in enumerate(ev["gates"])
    ]


def _eval_row(judged: str, r: dict) -> list:
    a = r["agreement"]
    row = [Cell(f"pruned {judged}")]
    if "dense" in r:
        d = r["delta"]
        row += [Cell(fmt_num(r["dense"]["accuracy"])), Cell(fmt_num(r["pruned"]["accuracy"]))]
        row += [
            Cell(f"{d[k]:+.4f}", sign_tone(d[k])) for k in ("accuracy", "macro_precision", "macro_recall")
        ]
    else:
        row += [Cell("") for _ in range(5)]
    row += [
        Cell(fmt_num(a.get("top1_agreement"))),
        Cell(fmt_num(a.get("top5_agreement"))),
        Cell(fmt_num(a["cosine"])),
        Cell(f"{float(a['snr_db']):.1f}"),  # float(): report.json stores an infinite SNR as "inf"
    ]
    return row
