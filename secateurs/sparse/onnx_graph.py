"""Graph bookkeeping shared by the ONNX encoders: picking initializers and fresh names."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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
