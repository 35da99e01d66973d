"""One job of a batch: run it as `secateurs run` would, or keep its earlier output (resume).

``run_job`` is the task an executor runs (in this process or a Ray worker): the same
``execute_reported`` as `run` (staging, promotion only when every check passes, <out>.failed,
manifest, --junit), with a user error caught and returned as the job's exit code so one
failed job never stops the others. Its record holds the figures the table shows.

Resume: a job is ``skipped`` when batch.json's record of its last run is a pass with the same
fingerprint (every setting, the secateurs version, and the content of each input file:
model file, weights, eval data, recipe), the output's manifest digest is still the one
recorded there and still matches the files, and report.json records the same settings.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import replace
from pathlib import Path

from secateurs import __version__, manifest
from secateurs.batch.jobs_file import Job
from secateurs.commands.ci_outputs import execute_reported
from secateurs.config import RunConfig
from secateurs.errors import SecateursError
from secateurs.pipeline.runner import failed_dir, run_stages
from secateurs.report.recommend import recommended_artifact

STATUS = {0: "passed", 1: "failed", 6: "gate-failed"}  # any other code: "error"
SKIPPED = "skipped"


def run_job(_shared, job: Job) -> dict:
    """Run ``job``; its record (``record``), never an exception for a user error."""
    t0 = time.perf_counter()
    if job.cwd != os.getcwd() and os.path.isdir(job.cwd):
        os.chdir(job.cwd)  # a Ray worker: relative paths mean what they meant to the driver
    cfg, data, code, message = job.config, None, 0, ""
    try:
        notes = ()
        if job.auto:
            cfg, notes = _auto(cfg)
        _ctx, data = execute_reported(cfg, run_stages(cfg), job.junit, notes=notes)
    except SecateursError as e:
        code, message = e.exit_code, str(e)
        if code in (1, 6):
            data = _report(failed_dir(cfg.out))
    return record(job, cfg, data, code, message, time.perf_counter() - t0)


def _auto(cfg: RunConfig) -> tuple[RunConfig, tuple[str, ...]]:
    """`run --auto`: the largest uniform amount within the budget, then the run at it."""
    from secateurs import threads
    from secateurs.tuning.sweep import auto_amount_for

    threads.apply(cfg.threads)
    amount, probes = auto_amount_for(cfg)
    note = f"--auto chose amount {amount}: largest within the budget, {len(probes)} probes, resolution 0.01"
    return replace(cfg, amount=amount), (note,)


def record(job: Job, cfg: RunConfig, data: dict | None, code: int, message: str, seconds: float) -> dict:
    """batch.json's entry for one job: status, exit code, the key figures, resume data."""
    best = recommended_artifact(data) if data else None
    sparsity = ((data or {}).get("sparsity") or {}).get("pruned_tensors") or {}
    channels = (data or {}).get("channels") or {}
    digest = None
    if code == 0:
        try:
            digest = manifest.read(cfg.out)["digest"]
        except manifest.ManifestError:
            pass
    return {
        "job": job.index,
        "model": cfg.model,
        "out": str(cfg.out),
        "out_path": os.path.abspath(cfg.out),
        "status": STATUS.get(code, "error"),
        "exit_code": code,
        "message": message,
        "amount": cfg.amount,
        "structure": cfg.structure,
        "sparsity": None if channels else sparsity.get("sparsity"),
        "params": [channels["params_before"], channels["params_after"]] if channels else None,
        "recommended": {"file": best.file, "size": best.size} if best else None,
        "metric": key_metric(data),
        "digest": digest,
        "fingerprint": fingerprint(job),
        "seconds": round(seconds, 2),
    }


def key_metric(data: dict | None) -> dict | None:
    """The job's headline quality figure: model.onnx's (else PyTorch's) accuracy or mAP50,
    else its top-1 agreement with the dense model; None without --eval."""
    results = ((data or {}).get("evaluation") or {}).get("results") or {}
    judged = results.get("onnx") or results.get("pytorch") or {}
    for block in ("pruned", "agreement"):
        for name in ("mAP50", "accuracy", "top1_agreement"):
            value = (judged.get(block) or {}).get(name)
            if isinstance(value, (int, float)):
                return {"name": name, "value": value, "of": "onnx" if "onnx" in results else "pytorch"}
    return None


def fingerprint(job: Job) -> str:
    """sha256 over the job's settings, --auto, the secateurs version and its input files' bytes."""
    cfg = job.config
    inputs = {"model": cfg.model, "weights": cfg.weights, "eval": cfg.eval, "recipe": cfg.recipe}
    hashed = {
        "config": cfg.to_json(with_out=False),
        "auto": job.auto,
        "version": __version__,
        "inputs": {k: _content(Path(v)) for k, v in inputs.items() if v and Path(v).exists()},
    }
    text = json.dumps(hashed, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _content(path: Path) -> str:
    """A file's sha256; a folder's (of images) names, sizes and modification times."""
    if path.is_file():
        return manifest.sha256(path)
    listing = [
        (p.relative_to(path).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(path.rglob("*"))
        if p.is_file()
    ]
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest()


def unchanged(job: Job, earlier: dict | None) -> bool:
    """Whether ``earlier`` (batch.json's record for this output) still describes it (module doc)."""
    if not earlier or earlier.get("exit_code") != 0 or earlier.get("fingerprint") != fingerprint(job):
        return False
    out = job.config.out
    try:
        listed = manifest.read(out)
    except manifest.ManifestError:
        return False
    if listed["digest"] != earlier.get("digest") or manifest.build(out)["digest"] != listed["digest"]:
        return False
    report = _report(out)
    if report is None or report.get("status") != "passed":
        return False
    settings = _comparable(job.config.to_json(with_out=False))
    return _comparable(report.get("config") or {}) == settings


def _comparable(config: dict) -> dict:
    """Settings as JSON reads them back; the amount is left to the fingerprint (a --recipe
    run records null, a --auto run the amount it chose)."""
    return {k: v for k, v in json.loads(json.dumps(config, default=str)).items() if k != "amount"}


def _report(directory: Path) -> dict | None:
    try:
        return json.loads((directory / "report.json").read_text())
    except (OSError, ValueError):
        return None


def skipped(earlier: dict, job: Job) -> dict:
    """The record of a job kept from an earlier batch: its figures, status ``skipped``."""
    return {**earlier, "job": job.index, "out": str(job.config.out), "status": SKIPPED, "seconds": 0.0}
