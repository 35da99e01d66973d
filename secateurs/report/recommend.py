"""The recommended artifact of a run: what to deploy, chosen from report.json's data alone.

One rule, shared by every place that names it (report.md, report.html, the terminal
summary and the verdict line): among the artifacts that onnxruntime loads as they are
(their format lists ``onnxruntime`` among its runtimes) and whose every check passed, the
smallest file; ties go to the format listed first. Nothing is recommended from a run that
was not validated, failed validation or broke an accuracy gate: an unchecked file is no recommendation. .spz and
weights.npz can be smaller, but no runtime loads them directly.
"""

from __future__ import annotations

from typing import NamedTuple

from secateurs import exporters
from secateurs.validators.results import check_failed

REASON = "the smallest file onnxruntime loads as it is, every check passed"


class Recommendation(NamedTuple):
    file: str  # its name in the artifact directory, e.g. "model.bitmask.onnx"
    size: int  # bytes on disk, external data included
    ratio: float | None  # size / model.onnx's size (None when model.onnx is not in the run)


def recommended_artifact(report: dict) -> Recommendation | None:
    """The artifact to deploy from a run's report.json data (see the module doc), or None."""
    validation = report.get("validation")
    if not validation or not validation.get("passed") or report.get("status", "passed") != "passed":
        return None  # unvalidated, failed validation, or broke an accuracy gate: not for deploying
    checks = validation.get("checks", [])
    failed = {c["artifact"] for c in checks if check_failed(c)}
    checked = {c["artifact"] for c in checks if c.get("applicable", True)}
    order = {f.name: i for i, f in enumerate(exporters.formats())}
    artifacts = report.get("artifacts", [])
    candidates = [
        (a["size"], order[a["name"]], a)
        for a in artifacts
        if a.get("name") in order
        and a["file"] in checked
        and a["file"] not in failed
        and exporters.ONNXRUNTIME in exporters.get(a["name"]).runtimes
    ]
    if not candidates:
        return None
    _, _, best = min(candidates, key=lambda c: c[:2])
    dense = next((a for a in artifacts if a.get("name") == exporters.DENSE_ONNX), None)
    ratio = best["size"] / dense["size"] if dense and dense["size"] else None
    return Recommendation(best["file"], best["size"], ratio)
