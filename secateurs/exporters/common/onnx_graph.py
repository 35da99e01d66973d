"""ONNX graph bookkeeping shared by the ONNX formats: picking initializers, fresh names,
raising the default opset safely, and saving in model.onnx's layout."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from secateurs.errors import ExportError

if TYPE_CHECKING:
    import onnx


def copy_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """Deep copy, so the encoders never mutate their argument."""
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


def _graphs(graph: onnx.GraphProto) -> Iterator[onnx.GraphProto]:
    """The graph and every subgraph nested in node attributes (If/Loop/Scan bodies)."""
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("g"):
                yield from _graphs(attr.g)
            for sub in attr.graphs:
                yield from _graphs(sub)


def iter_nodes(graph: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    """Every node, including those inside subgraphs."""
    for g in _graphs(graph):
        yield from g.node


def used_names(graph: onnx.GraphProto) -> set[str]:
    """Every tensor and node name anywhere in the graph, to avoid collisions."""
    names: set[str] = set()
    for g in _graphs(graph):
        names.update(t.name for t in g.initializer)
        names.update(s.values.name for s in g.sparse_initializer)
        names.update(s.indices.name for s in g.sparse_initializer)
        for seq in (g.input, g.output, g.value_info):
            names.update(v.name for v in seq)
        for node in g.node:
            names.add(node.name)
            names.update(node.input)
            names.update(node.output)
    names.discard("")
    return names


class Namer:
    """Hands out names not used in the graph, nor by an earlier call."""

    def __init__(self, taken: Iterable[str]) -> None:
        self._taken = set(taken)

    def __call__(self, base: str) -> str:
        name, i = base, 1
        while name in self._taken:
            name = f"{base}_{i}"
            i += 1
        self._taken.add(name)
        return name


def select_initializers(graph: onnx.GraphProto, names: Iterable[str]) -> list[tuple[str, int, str]]:
    """Resolve ``names`` to main-graph dense initializers.

    Returns ``(name, index into graph.initializer, reason)`` in the order given, with
    ``reason`` non-empty when the tensor must stay dense (it is also a graph input, so
    a caller may override it). Raises ExportError naming every unknown or repeated
    name, and for initializers whose data is still external.
    """
    from onnx import TensorProto

    wanted = list(names)
    index = {t.name: i for i, t in enumerate(graph.initializer)}
    missing = [n for n in wanted if n not in index]
    repeated = sorted({n for n in wanted if wanted.count(n) > 1})
    if missing or repeated:
        parts = []
        if missing:
            parts.append(f"not dense initializers of the main graph: {missing}")
        if repeated:
            parts.append(f"named more than once: {repeated}")
        raise ExportError("cannot encode tensors " + "; ".join(parts))
    inputs = {v.name for v in graph.input}
    out = []
    for n in wanted:
        tensor = graph.initializer[index[n]]
        if tensor.data_location == TensorProto.EXTERNAL:
            raise ExportError(
                f"initializer {n!r} still points to external data; "
                "load the model with onnx.load(..., load_external_data=True) first"
            )
        reason = "also a graph input (overridable at run time)" if n in inputs else ""
        out.append((n, index[n], reason))
    return out


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


def name_dynamic_dims(model: onnx.ModelProto, axes: dict[str, dict[int, str]], input_name: str) -> bool:
    """Give symbolic dims readable names, in place; True if anything changed.

    ``axes`` maps a graph input or output to ``{axis: name}`` (``batch``, ``height``,
    ``width``, ``out_height`` …). Each symbol the exporter chose for ``input_name``'s axes
    (``s77``) is renamed wherever it appears, also inside expressions on intermediate
    values (``((s53 - 1)//2) + 1`` becomes ``((height - 1)//2) + 1``), so equal dims stay
    equal; the listed axes of graph outputs take their names outright, as the torchscript
    exporter's ``dynamic_axes`` writes them.
    """
    import re

    graph = model.graph
    values = {v.name: v for v in [*graph.input, *graph.output]}
    symbols: dict[str, str] = {}
    if input_name in values:
        dims = values[input_name].type.tensor_type.shape.dim
        for axis, name in axes.get(input_name, {}).items():
            if axis < len(dims) and dims[axis].dim_param:
                symbols.setdefault(dims[axis].dim_param, name)
    if not symbols:
        return False
    token = re.compile(
        r"\b(" + "|".join(re.escape(s) for s in sorted(symbols, key=len, reverse=True)) + r")\b"
    )
    changed = False
    outputs = {v.name for v in graph.output}
    for g in _graphs(graph):
        for v in [*g.input, *g.output, *g.value_info]:
            if not v.type.HasField("tensor_type"):
                continue
            named = axes.get(v.name, {}) if g is graph and v.name in outputs else {}
            for axis, dim in enumerate(v.type.tensor_type.shape.dim):
                if not dim.dim_param:
                    continue
                new = named.get(axis) or token.sub(lambda m: symbols[m.group(1)], dim.dim_param)
                if new != dim.dim_param:
                    dim.dim_param = new
                    changed = True
    return changed


def save_model(model: onnx.ModelProto, path: Path, external: bool) -> None:
    """One ONNX file, or the file plus ``<name>.data`` holding every tensor of 1 KiB or more."""
    import onnx

    if not external:
        onnx.save_model(model, str(path))
        return
    onnx.save_model(
        model,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=path.name + ".data",
        size_threshold=1024,  # small tensors (shapes, axes) stay inline for shape inference
    )
