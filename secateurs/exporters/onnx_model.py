"""model.onnx: the dense pruned model as one ONNX file with a dynamic batch axis.

The default exporter is ``dynamo`` (``torch.export``-based), the path PyTorch supports
going forward; the legacy ``torchscript`` exporter is deprecated upstream but ~3x faster
on large models and still selectable with ``--exporter torchscript``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

from secateurs.errors import ExportError
from secateurs.exporters import register

OPSET = 18


@register
class OnnxModel:
    name = "onnx"
    filename = "model.onnx"
    description = "dense ONNX (zeros stored as floats)"
    accepted_by = "onnxruntime; any ONNX runtime; onnx.checker full_check"

    def export(self, ctx, path: Path) -> None:
        export_onnx(ctx.model, ctx.info, path, ctx.config.exporter)


def export_onnx(model, info, path: Path, exporter: str) -> None:
    """Export with stable names (input, output[_i]) and a dynamic batch axis, as one file."""
    import torch

    example = torch.zeros(*info.input_shape)
    if exporter == "dynamo" and example.shape[0] == 1:
        # torch.export specialises size-1 dims; trace at batch 2 so batch stays symbolic.
        example = torch.zeros(2, *info.input_shape[1:])
    axes = {n: {0: "batch"} for n in info.input_names + info.output_names}
    try:
        with _quiet():
            if exporter == "dynamo":
                batch = torch.export.Dim("batch", min=1)
                torch.onnx.export(
                    model,
                    (example,),
                    str(path),
                    dynamo=True,
                    external_data=False,
                    opset_version=OPSET,
                    input_names=info.input_names,
                    output_names=info.output_names,
                    dynamic_shapes=({0: batch},),
                    optimize=True,
                    verbose=False,
                )
            else:
                torch.onnx.export(
                    model,
                    (example,),
                    str(path),
                    dynamo=False,
                    opset_version=OPSET,
                    input_names=info.input_names,
                    output_names=info.output_names,
                    dynamic_axes=axes,
                    do_constant_folding=True,
                )
    except Exception as e:  # the exporters raise many unrelated types for unsupported models
        msg = str(e).strip().splitlines()
        raise ExportError(
            f"{exporter} exporter failed on {info.spec}: {type(e).__name__}: {msg[0][:300] if msg else ''}"
        ) from e
    if not path.is_file():
        raise ExportError(f"{exporter} exporter wrote no file at {path}")


@contextlib.contextmanager
def _quiet():
    """The exporters print progress and deprecation chatter; keep stdout for our report."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch._export", "torch.export", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
