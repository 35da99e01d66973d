"""The artifact to deploy from a run: the smallest one onnxruntime loads as it is and that
passed every check of validation, weighed against the dense model.onnx.

.spz and weights.npz can be smaller, but no runtime loads them directly, so they are never
the recommendation; an unvalidated run (prune, export) recommends nothing.
"""

from __future__ import annotations

from typing import NamedTuple

from secateurs import exporters


class Recommendation(NamedTuple):
    name: str  # the file, e.g. "model.bitmask.onnx"
    bytes: int  # its size on disk, external data included
    ratio: float | None  # bytes / model.onnx's bytes (None when model.onnx is not in the run)


def recommended_artifact(report_data: dict) -> Recommendation | None:
    """From report.json's data: the smallest validated onnxruntime-loadable artifact, or None."""
    checks = (report_data.get("validation") or {}).get("checks") or []
    checked = {c["artifact"] for c in checks}
    failed = {c["artifact"] for c in checks if not c["passed"]}
    if any(a not in {x["file"] for x in report_data.get("artifacts", [])} for a in failed):
        return None  # a failure outside every artifact (the PyTorch forward) voids them all
    dense = next((a for a in report_data.get("artifacts", []) if a["name"] == exporters.DENSE_ONNX), None)
    candidates = [
        a
        for a in report_data.get("artifacts", [])
        if a["file"] in checked and a["file"] not in failed and _onnxruntime_loads(a["file"])
    ]
    if not candidates:
        return None
    best = min(candidates, key=lambda a: a["size"])
    ratio = best["size"] / dense["size"] if dense and dense["size"] else None
    return Recommendation(best["file"], best["size"], ratio)


def _onnxruntime_loads(file: str) -> bool:
    fmt = exporters.for_file(file)
    return fmt is not None and exporters.ONNXRUNTIME in fmt.runtimes
