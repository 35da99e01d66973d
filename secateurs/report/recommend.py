"""The recommended artifact of a run: what to deploy, chosen from report.json's data alone.

One rule, shared by every place that names it (report.md, report.html, the terminal
summary and the `run` verdict line): among the artifacts that onnxruntime loads as they
are (their format lists ``onnxruntime`` among its runtimes) and whose every check passed,
the smallest file; ties go to the format listed first. Nothing is recommended from a run
that was not validated or failed validation: an unchecked file is no recommendation.
"""

from __future__ import annotations

from dataclasses import dataclass

from secateurs import exporters

REASON = "the smallest file onnxruntime loads as it is, every check passed"


@dataclass(frozen=True)
class Recommendation:
    file: str  # its name in the artifact directory
    size: int  # bytes, with any external data file
    reason: str


def recommended_artifact(report: dict) -> Recommendation | None:
    """The artifact to deploy from a run's report.json data (see the module doc), or None."""
    validation = report.get("validation")
    if not validation or not validation.get("passed"):
        return None
    failed = {c["artifact"] for c in validation.get("checks", []) if not c["passed"]}
    checked = {c["artifact"] for c in validation.get("checks", [])}
    order = {f.name: i for i, f in enumerate(exporters.formats())}
    candidates = []
    for a in report.get("artifacts", []):
        name = a.get("name")
        if name not in order or a["file"] in failed or a["file"] not in checked:
            continue
        if exporters.ONNXRUNTIME in exporters.get(name).runtimes:
            candidates.append((a["size"], order[name], a))
    if not candidates:
        return None
    _, _, best = min(candidates, key=lambda c: c[:2])
    return Recommendation(best["file"], best["size"], REASON)
