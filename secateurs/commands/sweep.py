"""`secateurs sweep`: metrics and artifact sizes over a list of pruning amounts.

Writes sweep.json (schema ``secateurs.sweep/1``), sweep.md (the table) and sweep.png
into --out, and prints the table. The model, data and dense outputs are loaded once.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from secateurs.commands.options import AmountList, default_out, model_options, quiet_option
from secateurs.config import SCOPES
from secateurs.tuning.sweep import DEFAULT_AMOUNTS, SCHEMA

EXPORTERS = ("torchscript", "dynamo")


@click.command()
@model_options
@click.option(
    "--amounts",
    default=",".join(map(str, DEFAULT_AMOUNTS)),
    show_default=True,
    type=AmountList(),
    help="Comma-separated amounts in [0, 1].",
)
@click.option("--scope", type=click.Choice(SCOPES), default="layer", show_default=True)
@click.option("--exclude", metavar="REGEX", help="Skip Conv2d modules whose name matches REGEX.")
@click.option(
    "--eval", "eval_spec", required=True, metavar="DATA", help="builtin:digits, random:N or a .npz."
)
@click.option("--max-accuracy-drop", type=float, help="Budget line: accuracy drop (0.01 = 1 point).")
@click.option("--min-agreement", type=float, help="Budget line: top-1 agreement with the dense model.")
@click.option(
    "--exporter",
    type=click.Choice(EXPORTERS),
    default="torchscript",
    show_default=True,
    help="ONNX exporter for the size column; torchscript is ~10x faster here, dynamo files are a few KiB larger.",
)
@click.option(
    "--out", type=click.Path(path_type=Path), help="Output directory [default: artifacts/<model>-sweep]."
)
@quiet_option
def sweep(
    model,
    weights,
    input_shape,
    trust_model_code,
    amounts,
    scope,
    exclude,
    eval_spec,
    max_accuracy_drop,
    min_agreement,
    exporter,
    out,
    quiet,
):
    """Prune at each amount and tabulate sparsity, artifact sizes and every metric's delta.

    \b
    Example:
      secateurs sweep builtin:resnet --eval builtin:digits --max-accuracy-drop 0.01 \\
        --amounts 0.1,0.2,0.3,0.5,0.9 --out artifacts/resnet-sweep
    """
    from secateurs import files
    from secateurs.config import check_fraction
    from secateurs.progress import progress
    from secateurs.report import html, markdown, terminal
    from secateurs.report.tuning import plots_page, sweep_table
    from secateurs.tuning import sweep as tuning
    from secateurs.tuning.plots import plot_sweep

    for name, value in (("--max-accuracy-drop", max_accuracy_drop), ("--min-agreement", min_agreement)):
        if value is not None:
            check_fraction(name, value)
    out = out or default_out(model, "-sweep")
    files.check_out_dir(out)
    t0 = time.perf_counter()
    tuner = tuning.Tuner(model, eval_spec, weights, input_shape, trust_model_code, scope, exclude, exporter)
    if max_accuracy_drop is not None:
        tuning.check_budget(tuner, max_accuracy_drop, None)
    t_load = time.perf_counter() - t0
    with progress(total=len(amounts), label="sweep") as advance:
        rows = tuning.sweep(tuner, amounts, advance=advance)
    budget = {"max_accuracy_drop": max_accuracy_drop, "min_agreement": min_agreement}
    if max_accuracy_drop is not None or min_agreement is not None:
        for r in rows:
            r["within_budget"] = tuning.within_budget(r, max_accuracy_drop, min_agreement)
    timings = {"load_and_dense": round(t_load, 3), "total": round(time.perf_counter() - t0, 3)}
    doc = document(tuner, rows, budget, exporter, timings)
    blocks = [sweep_table(doc)]
    with files.staged(out) as stage:
        files.write_json(stage / "sweep.json", doc)
        files.write_text(stage / "sweep.md", markdown.body(blocks) + "\n")
        png = stage / "sweep.png"
        plot_sweep(rows, png, doc["dense"], max_accuracy_drop, min_agreement)
        page = plots_page(f"secateurs sweep: {model}", blocks, {png.name: png.read_bytes()})
        files.write_text(stage / "report.html", html.render(page))
    if not quiet:
        click.echo(terminal.body(blocks))
    click.echo(f"secateurs: wrote {out} ({timings['total']:.1f} s)", err=True)


def document(tuner, rows: list[dict], budget: dict, exporter: str, timings: dict) -> dict:
    """sweep.json's content; non-finite numbers (an SNR of inf) are written as strings by files.write_json."""
    within = [r["amount"] for r in rows if r.get("within_budget")]
    doc = {
        "schema": SCHEMA,
        "model": tuner.info.spec,
        "input_shape": list(tuner.info.input_shape),
        "scope": tuner.scope,
        "exclude": tuner.exclude,
        "exporter": exporter,
        "eval": {"data": tuner.data.source, "samples": tuner.data.n, "labels": tuner.labelled},
        "dense": tuner.dense_metrics(),
        "budget": budget,
        "largest_amount_within_budget": max(within) if within else None,
        "rows": rows,
        "timings_s": timings,
    }
    return doc
