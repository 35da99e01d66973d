"""Sweep pruning amounts, and find the largest amount within a budget.

A ``Tuner`` (``tuning.tuner``) loads the model and the evaluation data once, keeps the dense
weights and the dense model's outputs, and per amount only restores the weights, prunes, and
runs the pruned model: a sweep of ten amounts costs one load and eleven evaluations.
Artifact sizes are those of the files the real exporters (``pipeline.export``) write in a
temp directory, with model.onnx exported twice per sweep rather than per amount and
rendered for the other amounts where proven byte-identical (``tuning.graph_reuse``).

On an executor other than ``local`` (``--executor ray``) the driver runs the first amounts
until the template is settled (built or refused), then shares the Tuner once and runs every
other amount as a task on its own copy: each renders its model.onnx from the same template,
so the rows, sizes and notes are those of the local loop.
With ``--structure channels`` every amount is a new architecture: each is exported afresh
(model.pt2 included), and each row also carries ``params`` and ``macs`` (per sample, Conv2d
and Linear), what channels buy. A local sweep also times each amount's model.onnx against
the dense original in onnxruntime (``time_against``): each row's ``latency``.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

from secateurs import files, threads
from secateurs.config import RunConfig, drop_budgets
from secateurs.errors import InputError, UsageError
from secateurs.executors import Executor, unwrap
from secateurs.exporters.onnx_model_torch import resolve_exporter
from secateurs.progress import SILENT, Progress
from secateurs.report import html, markdown
from secateurs.report.tuning import plots_page, sweep_blocks
from secateurs.tuning.config import SweepConfig
from secateurs.tuning.plots import plot_sweep, plot_tradeoff
from secateurs.tuning.tuner import SIZES_TEMP, Tuner, within_budget

SCHEMA = "secateurs.sweep/1"


def sweep(
    tuner: Tuner,
    amounts,
    sizes: bool = True,
    advance=None,
    executor: Executor | None = None,
    task_threads: int = 1,
    latency_runs: int = 0,
) -> list[dict]:
    """One row per amount: sparsity, metrics with deltas, and (``sizes``) artifact bytes.

    ``advance(detail)`` is called after each amount (``Progress.steps``). With a non-local
    ``executor``, the amounts after the template is settled run as tasks of ``task_threads``
    threads each; the rows are the same (but for ``seconds``). ``latency_runs`` > 0 (local
    only, with ``sizes``) adds each row's ``latency``: its model.onnx against the dense
    original in onnxruntime (``time_against``)."""
    if executor is not None and executor.name != "local":
        return _sweep_on(executor, tuner, list(amounts), sizes, advance, task_threads)
    rows = []
    with tempfile.TemporaryDirectory(prefix=files.pid_tagged_temp(SIZES_TEMP)) as tmp:
        dense = Path(tmp) / "dense.onnx"
        if sizes and latency_runs:
            tuner.export_dense(dense)
        for amount in amounts:
            t0 = time.perf_counter()
            row = tuner.evaluate(amount)
            if sizes:
                timed = None
                if latency_runs:

                    def timed(path: Path, row=row) -> None:
                        row["latency"] = time_against(dense, path, tuner.info, latency_runs)

                row["sizes"], row["model_onnx"] = tuner.artifact_sizes(amount, timed=timed)
            row["seconds"] = round(time.perf_counter() - t0, 3)
            rows.append(row)
            if advance:
                advance(f"amount {amount:g}")
    return rows


def time_against(dense: Path, pruned: Path, info, runs: int) -> dict:
    """onnxruntime latency of ``pruned`` (an amount's model.onnx) against ``dense`` at the
    large batch of the cost stage (``validators.latency.batches``: 32, capped by input size),
    interleaved, median of ``runs``: {batch, runs, dense_ms, pruned_ms, speedup, spreads_overlap}
    or {batch, error}."""
    from secateurs.report.cost import overlap
    from secateurs.validators import latency

    batch = max(latency.batches(tuple(info.input_shape), info.fixed_batch))
    shape = tuple(info.input_shape)
    found = latency.measure({"dense": dense, "pruned": pruned}, shape, [batch], runs)["artifacts"]
    d, p = found["dense"], found["pruned"]
    if "error" in d or "error" in p:
        return {"batch": batch, "error": d.get("error") or p.get("error")}
    d, p = d[str(batch)], p[str(batch)]
    return {
        "batch": batch,
        "runs": runs,
        "dense_ms": round(d["median_ms"], 4),
        "pruned_ms": round(p["median_ms"], 4),
        "speedup": round(d["median_ms"] / p["median_ms"], 4),
        "spreads_overlap": overlap(d, p),
    }


def _sweep_on(executor: Executor, tuner: Tuner, amounts, sizes: bool, advance, task_threads: int) -> list:
    rows = []
    while amounts and sizes and tuner.graph.template is None and tuner.graph.refused is None:
        rows += sweep(tuner, amounts[:1], sizes, advance)  # until model.onnx's template is settled
        amounts = amounts[1:]
    done = (lambda i, _r: advance(f"amount {amounts[i]:g}")) if advance else None
    items = [(a, sizes, task_threads) for a in amounts]
    for row, notes in unwrap(executor.map(_probe, items, executor.share(tuner), task_threads, done)):
        rows.append(row)
        for note in notes:  # the local loop's notes, in the same order
            tuner.graph.note(note)
    return rows


def _probe(tuner: Tuner, item: tuple) -> tuple[dict, list[str]]:
    """One amount on a task's copy of the Tuner: (row, the notes it added)."""
    amount, sizes, task_threads = item
    threads.apply(task_threads)
    files.clean_stale_temp(SIZES_TEMP)  # what a killed earlier attempt left on this node
    before = len(tuner.graph.notes)
    row = sweep(tuner, [amount], sizes)[0]
    return row, tuner.graph.notes[before:]


def run_sweep(
    cfg: SweepConfig, directory: Path, progress: Progress = SILENT, executor: Executor | None = None
) -> dict:
    """`secateurs sweep`: prune at every amount, write sweep.json, sweep.md, sweep.png and
    report.html into ``directory`` (a staging directory: the caller promotes it), and
    return sweep.json's content (schema ``secateurs.sweep/1``).

    Raises UsageError for a budget the data cannot judge, and every load error of ``run``.
    ``executor`` (default local) runs the amounts; ``cfg.threads`` is then each task's.
    """
    t0 = time.perf_counter()
    threads.apply(cfg.threads if executor is None or executor.name == "local" else None)
    progress.line(f"loading {cfg.model}")
    tuner = Tuner.from_config(cfg)
    tuner.check_budgets(cfg.budgets)
    t_load = time.perf_counter() - t0
    local = executor is None or executor.name == "local"
    with progress.steps(len(cfg.amounts), "sweep") as advance:
        rows = sweep(
            tuner, cfg.amounts, advance=advance, executor=executor, task_threads=cfg.threads or 1,
            latency_runs=cfg.latency_runs if local else 0,
        )  # fmt: skip
    if cfg.has_budget:
        for r in rows:
            r["within_budget"] = within_budget(r, cfg.budgets)
    timings = {"load_and_dense": round(t_load, 3), "total": round(time.perf_counter() - t0, 3)}
    doc = document(cfg, tuner, rows, timings)
    if cfg.latency_runs and not local:
        doc["notes"].append(
            "latency not measured: with --executor ray the amounts run at once and would time each"
            " other's load; sweep locally for it"
        )
    blocks = sweep_blocks(doc)
    files.write_json(directory / "sweep.json", doc)
    files.write_text(directory / "sweep.md", markdown.body(blocks) + "\n")
    png = directory / "sweep.png"
    plot_sweep(rows, png, doc["dense"], cfg.budgets, tuner.task, doc["dense_cost"])
    what = "mAP50 and mAP50-95" if tuner.task == "detect" else "quality"
    images = {
        f"sweep.png: {what}{', parameters and MACs' if doc['dense_cost'] else ''} and artifact sizes"
        " against the amount": png.read_bytes()
    }
    tradeoff = directory / "tradeoff.png"
    if plot_tradeoff(rows, tradeoff, doc["dense"], tuner.task):
        images[
            f"tradeoff.png: {what} against onnxruntime speed-up over dense (batch {rows[0]['latency']['batch']})"
            " and against model.onnx size; each point an amount"
        ] = tradeoff.read_bytes()
    page = plots_page(f"secateurs sweep: {cfg.model}", blocks, images)
    files.write_text(directory / "report.html", html.render(page))
    return doc


def document(cfg: SweepConfig, tuner: Tuner, rows: list[dict], timings: dict) -> dict:
    """sweep.json's content; non-finite numbers (an SNR of inf) are written as strings by files.write_json."""
    within = [r["amount"] for r in rows if r.get("within_budget")]
    data = tuner.data
    return {
        "schema": SCHEMA,
        "model": tuner.info.spec,
        "input_shape": list(tuner.info.input_shape),
        "scope": cfg.scope,
        "structure": cfg.structure,
        "round_to": cfg.round_to,
        "latency_runs": cfg.latency_runs,
        "exclude": cfg.exclude,
        "exporter": resolve_exporter(cfg.exporter, tuner.info.source),
        "opset": cfg.opset,
        "eval": None
        if data is None
        else {"data": data.source, "samples": data.n, "labels": tuner.labelled, "task": tuner.task},
        "dense": tuner.dense_metrics(),
        "dense_cost": tuner.dense_cost() if cfg.structure == "channels" else None,
        "budget": {
            "max_accuracy_drop": cfg.max_accuracy_drop,
            "min_agreement": cfg.min_agreement,
            "max_drop": dict(cfg.max_drop),
        },
        "largest_amount_within_budget": max(within) if within else None,
        "rows": rows,
        "notes": list(tuner.graph.notes),  # where model.onnx was exported afresh, and why
        "timings_s": timings,
    }


def auto_amount(tuner: Tuner, budgets, resolution: float = 0.01) -> tuple[float, list[dict]]:
    """The largest amount on a ``resolution`` grid over [0, 1] within every budget
    ((metric, largest drop), ``config.drop_budgets``), by bisection.

    Assumes the metric gets no better as the amount grows (monotone), which magnitude
    pruning makes likely but not certain; a non-monotone model may hide a larger good
    amount. Judges the pruned PyTorch model; the run at the chosen amount re-checks
    the gate on model.onnx too. Returns (amount, probes in the order run).
    """
    if not budgets:
        raise UsageError("give a budget: --max-accuracy-drop X, --min-agreement Y or --max-drop METRIC=X")
    tuner.check_budgets(budgets)
    steps = round(1 / resolution) if math.isfinite(resolution) and 0 < resolution <= 1 else 0
    if steps < 1 or abs(steps * resolution - 1) > 1e-9:
        raise UsageError(f"resolution must divide 1 (e.g. 0.01), got {resolution}")
    probes: list[dict] = []

    def ok(step: int) -> bool:
        row = tuner.evaluate(round(step / steps, 10))
        row["within_budget"] = within_budget(row, budgets)
        probes.append(row)
        return row["within_budget"]

    lo, hi = 0, steps  # invariant: lo is within budget (amount 0 changes nothing); hi is not
    if ok(hi):
        return 1.0, probes
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return round(lo / steps, 10), probes


def auto_amount_for(cfg: RunConfig, resolution: float = 0.01) -> tuple[float, list[dict]]:
    """``secateurs run --auto``: the amount for a RunConfig's model, data, scope and budget."""
    if not cfg.eval:
        raise UsageError("--auto needs --eval DATA")
    if cfg.finetune or cfg.finetune_fn:
        raise UsageError("--auto bisects amounts without fine-tuning; with --finetune give --amount")
    budgets = drop_budgets(cfg)
    if not budgets:  # checked here, before the model loads (auto_amount checks after)
        raise UsageError(
            "--auto needs a budget: --max-drop METRIC=VALUE (a detector: mAP50, mAP50-95, precision,"
            " recall), or --max-accuracy-drop and/or --min-agreement (a classifier)"
        )
    tuner = Tuner.from_config(cfg)
    amount, probes = auto_amount(tuner, budgets, resolution)
    cuts_nothing = tuner.structure == "channels" and tuner.evaluate(amount)["sparsity"] == 0.0
    if cuts_nothing and not cfg.allow_noop:
        raise InputError(
            f"{cfg.model}: --auto's largest amount within the budget, {amount:g}, removes no channel at"
            f" --round-to {tuner.round_to}; loosen the budget, lower --round-to, or pass --allow-noop"
        )
    return amount, probes
