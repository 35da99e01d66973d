"""The run report as blocks, from report.json's data: one Document for the terminal summary,
report.md, report.html and the GitHub step summary.

It shows what the stages that ran produced and nothing else: no size ledger before an
export, no validation section before `validate`, no exporter before an ONNX file exists.
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
from secateurs.report.channels import channel_section, channel_stats
from secateurs.report.checks import evaluation_section, validation_section
from secateurs.report.cost import compute_stat, cost_section, latency_stat
from secateurs.report.finetune import finetune_section
from secateurs.report.formats import fmt_bytes, fmt_pct
from secateurs.report.recommend import REASON, recommended_artifact
from secateurs.report.sizes import size_section

NOT_HERE = (
    "This page is listed in manifest.json, so it holds neither this run's stage timings nor"
    " the manifest's digest: identical runs write identical files, and no file can hold the"
    " digest of a manifest that hashes it. `secateurs report DIR` prints the timings"
    " (manifest.json, run.timings_s); `secateurs verify DIR` re-checks every file and prints"
    " the digest (manifest.json, digest)."
)
SPARSITY_LABELS = {
    "pruned_tensors": "sparsity over pruned Conv2d weights",
    "all_parameters": "sparsity over all parameters",
}


def document(
    report: dict,
    timings: dict[str, float] | None = None,
    images: dict[str, bytes] | None = None,
    pictures: dict[str, bytes] | None = None,
    latency: dict | None = None,
) -> Document:
    """``images`` (caption -> PNG bytes: sweep/sensitivity plots) and ``pictures`` (file name ->
    PNG bytes: the evaluation's, from the run directory) only show in HTML. ``latency``
    (manifest.json's run.latency) is passed in like ``timings``: it varies run to run."""
    model = report.get("model") or {}
    status = str(report.get("status", "?"))
    sections = [Section("Summary", [summary(report, latency)])]
    if model.get("notes"):
        notes = Items([str(n) for n in model["notes"]])
        sections.append(Section("Notes from loading and pruning", [notes]))
    if report.get("channels"):
        sections.append(channel_section(report))
    else:
        sections.append(Section("Per-layer sparsity", layers(report)))
    if report.get("finetune"):
        sections.append(finetune_section(report))
    sections.append(Section("Artifacts", [artifacts(report)]))
    ledger = size_section(report.get("sizes"))
    if ledger:
        sections.append(Section("Size ledger", ledger))
    cost = cost_section(report, latency)
    if cost:
        sections.append(cost)
    if report.get("validation"):
        sections.append(validation_section(report))
    if report.get("evaluation"):
        sections.append(evaluation_section(report["evaluation"], pictures))
    if images:
        sections.append(Section("Sweep and sensitivity", [Image(c, png) for c, png in images.items()]))
    if timings:
        sections.append(Section("Stage timings", [stage_timings(timings)]))
    else:
        sections.append(Section("Timings and digest", [Paragraph([NOT_HERE])]))
    sections.append(
        Section("Versions", [Paragraph([", ".join(f"{k} {v}" for k, v in report["versions"].items())])])
    )
    tone = "" if status == "unvalidated" else verdict_tone(status == "passed")
    return Document(f"secateurs report: {model.get('spec', '?')}", sections, status=status, status_tone=tone)


def summary(report: dict, latency: dict | None = None) -> Items:
    cfg = report["config"]
    model = report.get("model") or {}
    settings = f"model {model.get('spec', '?')}  {pruning(report)}  scope {cfg['scope']}"
    if cfg.get("structure", "unstructured") != "unstructured":
        settings += f"  structure {cfg['structure']}"
    if model.get("exporter"):  # resolved by the export stage; absent before it ran
        settings += f"  exporter {model['exporter']}"
    items: list = [settings]
    if cfg.get("settings_file"):
        given = ", ".join(cfg.get("settings_from_file") or ()) or "no values"
        items.append(f"settings: {cfg['settings_file']} gave {given}; flags override it")
    if report.get("channels"):
        items += channel_stats(report["channels"])
    else:
        for key, label in SPARSITY_LABELS.items():
            s = report["sparsity"][key]
            items.append(
                Stat(
                    label,
                    fmt_pct(s["sparsity"]),
                    f"{s['zeros']:,} / {s['numel']:,}",
                    s["denominator"],
                    "zeros",
                )
            )
    best = recommended_artifact(report)
    if best is not None:
        ratio = f", {best.ratio:.3f}x model.onnx" if best.ratio is not None else ""
        items.append(Stat("recommended artifact", best.file, fmt_bytes(best.size) + ratio, REASON))
    timed = latency_stat(latency, best.file) if best is not None else latency_stat(latency)
    items += [s for s in (compute_stat(report), timed) if s is not None]
    v = report.get("validation")
    if v is None:
        items.append(Verdict("validation", "not run"))
    else:
        items.append(Verdict("validation", "PASSED" if v["passed"] else "FAILED", verdict_tone(v["passed"])))
    evaluation = report.get("evaluation")
    if not evaluation:
        items.append(Verdict("task evaluation", "not run (--eval DATA)"))
    elif evaluation.get("gates"):
        broken = [g for g in evaluation["gates"] if not g["passed"]]
        word = f"FAILED: {broken[0]['detail']} ({broken[0]['judged']})" if broken else "PASSED"
        items.append(Verdict("accuracy gates", word, verdict_tone(not broken)))
    items.append(Paragraph([report["performance_note"]], role="note"))
    return Items(items)


def pruning(report: dict) -> str:
    """How the amounts were set: the uniform --amount, or the recipe with what it left to others."""
    recipe = report.get("recipe")
    if not recipe:
        return f"amount {report['config']['amount']}"
    listed = len(recipe["layers"])
    text = f"recipe {recipe['file']} ({listed} layer{'s' * (listed != 1)} at its amounts"
    if recipe.get("unlisted"):
        n = len(recipe["unlisted"])
        source = "its default" if recipe["unlisted_amount_from"] == "recipe default" else "--amount"
        text += f"; {n} unlisted layer{'s' * (n != 1)} at {source} {recipe['unlisted_amount']}"
    return text + ")"


LAYER_COLUMNS = [
    Column("layer"),
    Column("shape"),
    Column("weights", "number"),
    Column("target", "percent"),
    Column("achieved (bar) / target (tick)", "bar"),
    Column("achieved", "percent"),
    Column("zeros before", "number"),
]
GLOBAL_COLUMNS = [
    Column("layer"),
    Column("shape"),
    Column("weights", "number"),
    Column("cut", "number"),
    Column("sparsity (bar)", "bar"),
    Column("got", "percent"),
    Column("zeros before", "number"),
]


def layers(report: dict) -> list:
    if report["config"]["scope"] == "global":
        return global_layers(report)
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
    rows += excluded_rows(report)
    blocks: list = [
        Paragraph(["bar: achieved sparsity (0–100%); black tick: target"], role="legend", rich=True)
    ]
    recipe = report.get("recipe")
    if recipe:
        blocks.append(Paragraph([f"target: the amount each layer got from the {pruning(report)}"]))
    return [*blocks, Table(LAYER_COLUMNS, rows)]


def global_layers(report: dict) -> list:
    """Global scope: one threshold over every pruned weight, so each layer has what it got, no target."""
    rows = [
        [
            Cell(r["name"]),
            Cell("x".join(map(str, r["shape"]))),
            Cell(f"{r['numel']:,}"),
            Cell(f"{r['pruned']:,}"),
            Bar(_fraction(r["sparsity"])),
            Cell(fmt_pct(r["sparsity"])),
            Cell(f"{r['zeros_before']:,}"),
        ]
        for r in report["layers"]
    ]
    total = report["sparsity"]["pruned_tensors"]
    line = (
        f"global scope: one L1 threshold over all {total['numel']:,} weights of the {len(rows)} pruned layers"
        f" cut amount {report['config']['amount']} of them; each layer got what fell under it"
        " (cut: weights the threshold selected; got: the layer's sparsity after pruning)"
    )
    return [Paragraph([line]), Table(GLOBAL_COLUMNS, rows + excluded_rows(report))]


def excluded_rows(report: dict) -> list:
    """The Conv2d layers --exclude kept whole, after the pruned ones, marked in the target/cut column."""
    return [
        [
            Cell(r["name"]),
            Cell("x".join(map(str, r["shape"]))),
            Cell(f"{r['numel']:,}"),
            Cell("excluded"),
            Bar(_fraction(r["sparsity"])),
            Cell(fmt_pct(r["sparsity"])),
            Cell(f"{r['zeros_before']:,}"),
        ]
        for r in report.get("excluded_layers", [])
    ]


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
