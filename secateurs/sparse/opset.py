"""Raising a model's default-domain opset, only when that cannot change any op's meaning."""

from __future__ import annotations

from typing import TYPE_CHECKING

from secateurs.sparse.onnx_graph import iter_nodes

if TYPE_CHECKING:
    import onnx

_DEFAULT_DOMAINS = ("", "ai.onnx")


def default_opset(model: onnx.ModelProto) -> int | None:
    """The model's ai.onnx opset version, or None when it imports none."""
    for op in model.opset_import:
        if op.domain in _DEFAULT_DOMAINS:
            return int(op.version)
    return None


def _changed_ops(model: onnx.ModelProto, old: int, new: int) -> list[str]:
    """Default-domain ops whose schema differs between opsets ``old`` and ``new``."""
    from onnx import defs

    changed = set()
    for node in iter_nodes(model.graph):
        if node.domain not in _DEFAULT_DOMAINS:
            continue
        try:
            a = defs.get_schema(node.op_type, old, "").since_version
            b = defs.get_schema(node.op_type, new, "").since_version
        except defs.SchemaError:
            changed.add(node.op_type)
            continue
        if a != b:
            changed.add(node.op_type)
    return sorted(changed)


def raise_default_opset(model: onnx.ModelProto, minimum: int) -> str:
    """Make ``model`` (in place) import ai.onnx opset >= ``minimum`` if that is safe.

    Safe means every default-domain op in the graph has the same definition at both
    versions, so only the import changes (plus ir_version, if the new opset needs a
    newer one). Returns "" on success, else why it was not done; then the model is
    untouched.
    """
    from onnx import helper

    current = default_opset(model)
    if current is not None and current >= minimum:
        return ""
    if current is not None:
        changed = _changed_ops(model, current, minimum)
        if changed:
            return (
                f"needs ai.onnx opset {minimum} but the model uses {current}, and "
                f"{', '.join(changed)} changed definition in between; convert the model "
                f"with onnx.version_converter.convert_version(model, {minimum}) first"
            )
        for op in model.opset_import:
            if op.domain in _DEFAULT_DOMAINS:
                op.version = minimum
    else:
        model.opset_import.append(helper.make_opsetid("", minimum))
    needed_ir = helper.find_min_ir_version_for(list(model.opset_import))
    model.ir_version = max(model.ir_version, needed_ir)
    return ""
