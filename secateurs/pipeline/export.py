"""Stage 3, export: write each selected artifact format into the work directory.

Each exporter writes to a temporary name that is renamed into place, so a file
hard-linked in from an earlier stage is replaced, never modified in place.
"""

from __future__ import annotations

import os

from secateurs import exporters
from secateurs.errors import UsageError
from secateurs.pipeline.context import Artifact, RunContext


def run(ctx: RunContext) -> None:
    chosen = [exporters.get(name) for name in ctx.config.formats]  # unknown names fail first
    derived = [e.name for e in chosen if getattr(e, "needs_onnx", False)]
    if derived and "onnx" not in ctx.config.formats and "onnx" not in ctx.artifacts:
        raise UsageError(f"--formats {','.join(derived)} is derived from model.onnx; add onnx to --formats")
    chosen.sort(key=lambda e: e.name != "onnx")  # stable: onnx first, the rest as given
    for exporter in chosen:
        final = ctx.artifact_path(exporter.filename)
        stem, dot, suffix = exporter.filename.partition(".")
        tmp = final.with_name(f".{stem}.partial{dot}{suffix}")
        try:
            exporter.export(ctx, tmp)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        ctx.artifacts[exporter.name] = Artifact(
            exporter.name, final, exporter.description, exporter.accepted_by
        )
