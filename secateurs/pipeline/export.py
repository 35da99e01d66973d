"""Stage 3, export: write each selected artifact format into the work directory.

Each exporter writes into a private temporary folder under its final file name (so an
ONNX file's external-data location is already right); the files are then renamed into
place. A file hard-linked in from an earlier stage is therefore replaced, never
modified in place. Disk and permission failures are output errors (exit 5).
"""

from __future__ import annotations

import errno
import os
import shutil

from secateurs import exporters
from secateurs.config import check_formats
from secateurs.errors import OutputError
from secateurs.pipeline.context import Artifact, RunContext


def run(ctx: RunContext) -> None:
    check_formats(ctx.config.formats, ctx.artifacts)  # RunConfig.preflight did this before loading
    chosen = [exporters.get(name) for name in ctx.config.formats]
    dense = exporters.DENSE_ONNX
    chosen.sort(key=lambda e: e.name != dense)  # stable: model.onnx first, the rest as given
    forget_stale(ctx, {e.name for e in chosen})
    for exporter in chosen:
        tmp = ctx.workdir / f".export-{exporter.name}"
        try:
            tmp.mkdir()
            exporter.export(ctx, tmp / exporter.filename)
            for produced in sorted(tmp.iterdir()):
                os.replace(produced, ctx.workdir / produced.name)
        except OSError as e:
            reason = "disk full" if e.errno == errno.ENOSPC else (e.strerror or str(e))
            raise OutputError(f"{ctx.workdir / exporter.filename}: cannot write ({reason})") from e
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        ctx.artifacts[exporter.name] = artifact(exporter, ctx.workdir)


def artifact(exporter: exporters.Format, directory) -> Artifact:
    """The Artifact of ``exporter``'s file in ``directory``."""
    return Artifact(exporter.name, directory / exporter.filename, exporter.description, exporter.accepted_by)


def export_artifacts(cfg, model, info, layers, directory, present=()) -> dict[str, Artifact]:
    """Export an already pruned ``model`` into ``directory`` outside a run (sweep's size column):
    the same exporters and files as the export stage, with ``cfg.formats``. ``present`` names
    formats whose files are already in ``directory`` (a model.onnx the sweep wrote itself), for
    the formats derived from them. Returns the artifacts by format name, ``present`` included."""
    ctx = RunContext(cfg, directory, model=model, info=info, layers=layers)
    ctx.artifacts = {name: artifact(exporters.get(name), directory) for name in present}
    run(ctx)
    return ctx.artifacts


def forget_stale(ctx: RunContext, exporting: set[str]) -> None:
    """New artifacts void earlier verdicts; a new model.onnx voids the files derived from it."""
    ctx.validation = None
    ctx.evaluation = None
    ctx.cost = None
    if exporters.DENSE_ONNX not in exporting:
        return
    for name in [n for n in ctx.artifacts if n not in exporting]:
        if exporters.get(name).derives_from_onnx:
            for path in ctx.artifacts.pop(name).files:
                path.unlink(missing_ok=True)
            ctx.encodings.pop(name, None)
