"""Stage 3, export: write each selected artifact format into the work directory.

Each exporter writes to a temporary name that is renamed into place, so a file
hard-linked in from an earlier stage is replaced, never modified in place.
"""

from __future__ import annotations

import os

from secateurs import exporters
from secateurs.pipeline.context import Artifact, RunContext


def run(ctx: RunContext) -> None:
    chosen = [exporters.get(name) for name in ctx.config.formats]  # unknown names fail first
    for exporter in chosen:
        final = ctx.artifact_path(exporter.filename)
        stem, dot, suffix = exporter.filename.partition(".")
        tmp = final.with_name(f".{stem}.partial{dot}{suffix}")
        try:
            exporter.export(ctx, tmp)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        ctx.artifacts[exporter.name] = Artifact(exporter.name, final, exporter.description)
