"""Run stages in order inside a staging directory, time each, and promote only on success.

A success also removes a ``<out>.failed`` an earlier run left (listed in ``ctx.removed``).

``execute`` serves both ``secateurs run`` (all stages) and the split stage commands
(``prune``, ``export``, ``validate``, ``report``): a split command resumes from the
``report.json`` of an earlier stage, works on a staged copy of that directory, and
replaces it only when it succeeds. report.json is the hand-off between stages.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from secateurs import cpus, files, report, threads
from secateurs.config import RunConfig
from secateurs.errors import GateFailed, InputError, OutputError, ValidationFailed
from secateurs.evaluation.judge import gates_passed
from secateurs.exporters.common.records import TensorEncoding
from secateurs.model.load import load_model
from secateurs.model.records import LayerRecord, ModelInfo
from secateurs.pipeline import cost, evaluate, export, finetune, load, prune, state, validate
from secateurs.pipeline.context import Artifact, RunContext
from secateurs.progress import Progress
from secateurs.report import failures, ledger
from secateurs.report.stored import REPORT_HTML, REPORT_JSON, REPORT_MD, read_timings
from secateurs.validators.results import ValidationResult


@dataclass(frozen=True)
class Stage:
    """One stage: its entry point, the RunContext fields it needs, and those it fills."""

    run: Callable[[RunContext], None]
    reads: tuple[str, ...]
    writes: tuple[str, ...]


STAGES: dict[str, Stage] = {
    "load": Stage(load.run, (), ("model", "info")),
    "reference": Stage(evaluate.run_reference, ("model", "info"), ("eval_data", "dense_outputs")),
    "prune": Stage(prune.run, ("model", "info"), ("layers", "param_counts", "channels")),
    "finetune": Stage(finetune.run, ("model", "info"), ("layers", "param_counts", "finetune")),
    "export": Stage(export.run, ("model", "info"), ("artifacts", "encodings")),
    # `prune` writes pruned.safetensors through the export stage; timed and shown as "save",
    # so a pruned directory never reports an export that did not happen.
    "save": Stage(export.run, ("model", "info"), ("artifacts", "encodings")),
    "validate": Stage(validate.run, ("model", "info"), ("validation",)),
    "evaluate": Stage(evaluate.run, ("model",), ("evaluation",)),
    "cost": Stage(cost.run, ("info",), ("cost", "latency")),
}


def run_stages(cfg: RunConfig) -> list[str]:
    """Every stage of `secateurs run`; the evaluation stages only with --eval."""
    stages = ["load", "reference", "prune", "finetune", "export", "validate", "cost", "evaluate"]
    stages = stages if cfg.finetune or cfg.finetune_fn else [s for s in stages if s != "finetune"]
    return stages if cfg.eval else [s for s in stages if s not in ("reference", "evaluate")]


def failed_dir(out: Path) -> Path:
    return out.with_name(out.name + ".failed")


def execute(
    cfg: RunConfig,
    stages: list[str],
    resume: Path | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
    notes: tuple[str, ...] = (),
) -> tuple[RunContext, dict]:
    """Run ``stages``; return (context, report). Raise ValidationFailed after writing <out>.failed."""
    import torch  # noqa: F401  (without the [export] extra, fail here: before any progress line or staging)

    present = [a["name"] for a in state.read(resume)["artifacts"]] if resume is not None else []
    cfg.preflight(stages, present)  # every option checkable without the model, before it loads

    used = threads.apply(cfg.threads)
    staging = files.make_staging(cfg.out)
    try:
        ctx = RunContext(cfg, staging, threads=used)
        bar = getattr(progress, "__self__", None)  # progress_printer's Progress, for stages with a bar
        ctx.progress = bar if isinstance(bar, Progress) else None
        if resume is not None:
            restore(ctx, resume)
        for i, name in enumerate(stages, 1):
            progress(f"[{i}/{len(stages) + 1}] {name}")
            stage = STAGES[name]
            missing = [f for f in stage.reads if getattr(ctx, f) is None]
            if missing:  # a programming error: the stage list or a restore is incomplete
                raise RuntimeError(f"stage {name} needs {', '.join(missing)}, which no earlier stage wrote")
            t0 = time.perf_counter()
            stage.run(ctx)
            ctx.timings[name] = time.perf_counter() - t0
        progress(f"[{len(stages) + 1}/{len(stages) + 1}] report")
        if ctx.info is not None:
            ctx.info.notes.extend(notes)  # e.g. how --auto chose the amount
        valid = ctx.validation is None or bool(ctx.validation)
        within_budget = gates_passed(ctx.evaluation)
        passed = valid and within_budget
        if ctx.validation is None:
            status = "unvalidated"
        else:
            status = "passed" if passed else ("failed" if not valid else "gate-failed")
        data = write_reports(ctx, status)  # first: it adds the evaluation's pictures, which state keeps
        state.write(ctx)
        files.write_manifest(staging, run_record(ctx))
        files.promote(staging, cfg.out if passed else failed_dir(cfg.out))
    except BaseException:
        files.discard(staging)
        raise
    if not valid:
        raise ValidationFailed(
            f"{failure_line(ctx.validation)}; artifacts and report left in {failed_dir(cfg.out)}"
        )
    if not within_budget:
        raise GateFailed(
            f"{failures.gate_line(ctx.evaluation['gates'])}; artifacts and report left in {failed_dir(cfg.out)}"
        )
    _relocate(ctx, cfg.out)
    if files.remove_stale(failed_dir(cfg.out)):  # its report would contradict the good <out>
        ctx.removed.append(failed_dir(cfg.out))
    return ctx, data


def failure_line(validation: ValidationResult) -> str:
    """One line for a failed validation: each distinct failure once, the root cause (an
    artifact onnxruntime cannot load) first, and the worst errors (report.failures)."""
    return failures.validation_line(validation.to_json())


def write_reports(ctx: RunContext, status: str) -> dict:
    t0 = time.perf_counter()
    ctx.timings.pop("report", None)
    if ctx.detections is not None:
        evaluate.draw_pictures(ctx)
    sizes = ledger.build(ctx) if ctx.model is not None and ctx.artifacts else None
    data = report.build(ctx, status, sizes)
    files.write_json(ctx.workdir / REPORT_JSON, data)
    files.write_text(ctx.workdir / REPORT_MD, report.render_markdown(data))
    files.write_text(ctx.workdir / REPORT_HTML, report.render_html(data, plots_for(ctx.config), ctx.workdir))
    ctx.timings["report"] = time.perf_counter() - t0
    return data


def run_record(ctx: RunContext) -> dict:
    """manifest.json's ``run`` block: when, how long and on how many threads, kept out of
    every hashed file (the thread count changes no artifact byte)."""
    record = {
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timings_s": {k: round(v, 4) for k, v in ctx.timings.items()},
        "threads": ctx.threads,
        "usable_cpus": cpus.usable(),
    }
    if ctx.latency is not None:  # measured by the cost stage; it varies run to run (pipeline.cost)
        record["latency"] = ctx.latency
    return record


def plots_for(cfg: RunConfig) -> dict[str, bytes]:
    """Plots behind this run's settings: the sensitivity heat-map beside a --recipe file."""
    plots = {}
    if cfg.recipe is not None:
        heatmap = Path(cfg.recipe).parent / "sensitivity.png"
        if heatmap.is_file():
            plots[f"per-layer sensitivity behind {Path(cfg.recipe).name}"] = heatmap.read_bytes()
    return plots


def _relocate(ctx: RunContext, out: Path) -> None:
    ctx.workdir = out
    for a in ctx.artifacts.values():
        a.path = out / a.path.name


def restore(ctx: RunContext, source: Path) -> None:
    """Fill ``ctx`` from the stage state an earlier command left in ``source``
    (``pipeline.state``); its files are linked into staging."""
    data = state.read(source)
    for item in sorted(source.rglob("*")):
        if item.is_file() and item.name != files.MANIFEST:
            target = ctx.workdir / item.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(item, target)
    ctx.info = ModelInfo.from_json(data["model"])
    ctx.layers = [LayerRecord.from_json(r) for r in data["layers"]]
    ctx.recipe = data.get("recipe")
    ctx.excluded = [LayerRecord.from_json(r) for r in data.get("excluded", [])]
    ctx.timings = read_timings(source)
    ctx.timings.pop("report", None)
    ctx.param_counts = dict(data["param_counts"])
    ctx.channels = data.get("channels")
    ctx.finetune = data.get("finetune")
    for a in data["artifacts"]:
        ctx.artifacts[a["name"]] = Artifact(
            a["name"], ctx.workdir / a["file"], a["description"], a["accepted_by"]
        )
    ctx.encodings = {k: [TensorEncoding.from_dict(r) for r in v] for k, v in data["encodings"].items()}
    if data["validation"]:
        ctx.validation = ValidationResult.from_json(data["validation"])
    ctx.evaluation = data["evaluation"]
    ctx.cost = data.get("cost")
    weights = ctx.workdir / (data["weights"] or "")
    if not data["weights"] or not weights.is_file():
        raise InputError(
            f"{source}: holds no pruned weights ({data['weights'] or 'none recorded'}); run `secateurs prune` first"
        )
    if ctx.channels:  # a smaller architecture than the spec builds: its program holds it
        program = ctx.workdir / ctx.channels["program"]
        ctx.model, _ = load_model(str(program), None, ctx.info.input_shape)
    else:
        ctx.model, _ = load_model(ctx.info.spec, weights, ctx.info.input_shape, ctx.config.trust_model_code)


def resumed_config(directory: Path, **overrides) -> RunConfig:
    """The earlier stage's settings, with explicitly given options taking precedence."""
    cfg = RunConfig.from_json(state.read(directory)["config"], **overrides)
    return replace(cfg, out=directory)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        try:
            shutil.copy2(src, dst)
        except OSError as e:
            raise OutputError(f"{dst}: cannot stage {src.name} ({e.strerror or e})") from e
