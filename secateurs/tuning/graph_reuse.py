"""Every artifact at each amount of a sweep, with the model exported to ONNX twice, not per amount.

The first amount that prunes anything is exported afresh by the export stage (every
format) and kept as evidence. At the next amount the dense model is exported once
(``onnx_template``) and the evidence's pruned weights rendered from it: only when that
rendering equals the fresh model.onnx byte for byte is the template trusted. From then on
each amount's model.onnx is rendered from it and written, and the real exporters write only
the other formats (those derived from model.onnx, and the weight files). Where the template
is refused, or cannot reproduce one amount, that model.onnx is exported afresh and a note
says why: the sizes are always those of the files `secateurs run` writes.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from secateurs import exporters
from secateurs.errors import ExportError
from secateurs.exporters import DENSE_ONNX
from secateurs.model.conv_targets import get_param
from secateurs.pipeline import export
from secateurs.tuning.onnx_template import OnnxTemplate, Unreproducible

EXPORTED, RENDERED = "exported", "rendered"  # how an amount's model.onnx was written


class GraphReuse:
    """One sweep's template and its evidence; ``notes`` says where and why it was not used."""

    def __init__(self) -> None:
        self.template: OnnxTemplate | None = None
        self.refused: str | None = None  # why no model.onnx is rendered in this sweep
        self.evidence: tuple[dict, bytes] | None = None  # (pruned weights by layer, model.onnx)
        self.notes: list[str] = []

    def wants_template(self) -> bool:
        """True when the next ``write`` needs a template that is not built yet: call ``build``
        with the model holding its dense weights first."""
        return self.template is None and self.refused is None and self.evidence is not None

    def build(self, cfg, model, info, exclude: str | None) -> None:
        """Export the dense ``model`` once and trust it only if it reproduces the evidence."""
        with tempfile.TemporaryDirectory(prefix="secateurs-template-") as tmp:
            try:
                export.export_artifacts(replace(cfg, formats=(DENSE_ONNX,)), model, info, [], Path(tmp))
            except ExportError as e:  # the pruned model exported: its amounts still can
                return self._refuse(f"the dense model did not export ({e})")
            if [p.name for p in Path(tmp).iterdir()] != ["model.onnx"]:
                return self._refuse("model.onnx keeps its tensors in model.onnx.data")
            data = (Path(tmp) / "model.onnx").read_bytes()
        weights, fresh = self.evidence
        self.evidence = None
        try:
            template = OnnxTemplate(data, model, exclude)
            if template.render(weights) != fresh:
                return self._refuse("the dense export, rewritten, differs from a fresh export")
        except Unreproducible as e:
            return self._refuse(str(e))
        self.template = template

    def write(self, cfg, model, info, records, directory: Path, label: str) -> tuple[dict, str]:
        """Every format of ``cfg.formats`` for ``model`` as pruned now (``records``) into
        ``directory``; returns (artifacts by format name, EXPORTED or RENDERED)."""
        if self.template is not None and DENSE_ONNX in cfg.formats:
            try:
                data = self.template.render({r.name: get_param(model, r.param) for r in records})
            except Unreproducible as e:
                self.note(f"{label}: model.onnx exported afresh: {e}")
            else:
                (directory / exporters.get(DENSE_ONNX).filename).write_bytes(data)
                rest = replace(cfg, formats=tuple(f for f in cfg.formats if f != DENSE_ONNX))
                return export.export_artifacts(rest, model, info, records, directory, (DENSE_ONNX,)), RENDERED
        artifacts = export.export_artifacts(cfg, model, info, records, directory)
        onnx = artifacts.get(DENSE_ONNX)
        if onnx is not None and self.template is None and self.refused is None and self.evidence is None:
            if any(r.pruned for r in records):  # evidence must exercise the zeros
                weights = {r.name: get_param(model, r.param).detach().clone() for r in records}
                self.evidence = (weights, onnx.path.read_bytes())
        return artifacts, EXPORTED

    def _refuse(self, why: str) -> None:
        self.refused = why
        self.note(f"model.onnx exported afresh at every amount: {why}")

    def note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)
