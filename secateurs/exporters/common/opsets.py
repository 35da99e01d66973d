"""The ai.onnx opsets model.onnx can be written at (``--opset``), per exporter; torch-free,
so the options and the settings check it without importing torch."""

from __future__ import annotations

from secateurs.errors import UsageError

DEFAULT_OPSET = 18
# The ai.onnx opsets each exporter writes as asked (measured with torch 2.13/2.14, onnx 1.23,
# onnxruntime 1.32, on every builtin and in onnxruntime):
# - torchscript: 7 (the oldest onnxruntime supports) to 20 (torch.onnx's
#   ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET; tests/test_opset.py checks it still is);
# - dynamo: 18 (asked for less, torch silently writes 18) to the newest opset the installed
#   onnx defines (asked for more, torch silently writes 18 too).
TORCHSCRIPT_OPSETS = (7, 20)
DYNAMO_MIN_OPSET = 18


def opset_range(exporter: str) -> tuple[int, int]:
    """The opsets ``exporter`` (auto counts as dynamo, its usual choice) writes faithfully."""
    if exporter == "torchscript":
        return TORCHSCRIPT_OPSETS
    from onnx.defs import onnx_opset_version

    return DYNAMO_MIN_OPSET, onnx_opset_version()


def check_opset(opset, exporter: str) -> int:
    """--opset within what ``exporter`` writes; a UsageError (exit 2) naming the range otherwise."""
    if isinstance(opset, bool) or not isinstance(opset, int):
        raise UsageError(f"--opset must be an integer, got {opset!r}")
    if opset == DEFAULT_OPSET:  # in every range; skips importing onnx on the common path
        return opset
    low, high = opset_range(exporter)
    if not low <= opset <= high:
        which = "auto (dynamo)" if exporter == "auto" else exporter
        raise UsageError(f"--opset {opset}: the {which} exporter writes opsets {low} to {high}")
    return opset
