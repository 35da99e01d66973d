"""Parameters and multiply-accumulates (MACs) counted on an ONNX graph, not on the PyTorch model.

The graph is what a runtime executes, so its counts are what deployment pays. Shapes come
from ``onnx.shape_inference`` after the input is fixed to a concrete shape. Per node:

- Conv: N·Cout·Hout·Wout·(Cin/groups)·kh·kw, i.e. numel(output) · prod(weight.shape[1:]);
- ConvTranspose: numel(input) · prod(weight.shape[1:]) (each input element meets Cout/groups·k);
- Gemm and MatMul: M·N·K, i.e. numel(output) · K;
- every other operator (norms, activations, adds, pooling, resizes...) counts 0, and the
  result lists their types under ``zero_counted``.

``nonzero_macs`` counts only the MACs whose weight is not zero (a Conv: N·Hout·Wout·nnz(W)):
what a sparse kernel could skip, for information. onnxruntime runs zeros densely, so for an
unstructured run ``macs`` stays the dense figure. Torch-free: onnx and numpy only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

COUNTED = ("Conv", "ConvTranspose", "Gemm", "MatMul")
FLOAT_TYPES = {
    onnx.TensorProto.FLOAT,
    onnx.TensorProto.FLOAT16,
    onnx.TensorProto.BFLOAT16,
    onnx.TensorProto.DOUBLE,
}


@dataclass
class GraphCost:
    params: int  # elements of the floating-point initializers (weights, biases, norm statistics)
    nonzero_params: int
    macs: int  # dense multiply-accumulates for one input of ``shape``
    nonzero_macs: int  # those with a nonzero constant weight (weights computed at run time count whole)
    shape: list[int]
    by_op: dict[str, int] = field(default_factory=dict)  # MACs per counted operator type
    zero_counted: list[str] = field(default_factory=list)  # operator types present and counted as 0
    unshaped: list[str] = field(default_factory=list)  # counted nodes whose shapes inference missed

    def to_json(self) -> dict:
        return asdict(self)


def count(model: onnx.ModelProto, shape: tuple[int, ...] | list[int]) -> GraphCost:
    """Count ``model`` (not modified) for one input of ``shape`` on its first graph input."""
    inferred = _inferred(model, tuple(shape))
    graph = inferred.graph
    inits = {t.name: t for t in graph.initializer}
    shapes = _shapes(inferred)
    params = nonzero_params = 0
    for t in graph.initializer:
        if t.data_type in FLOAT_TYPES:
            a = numpy_helper.to_array(t)
            params += a.size
            nonzero_params += int(np.count_nonzero(a))
    for s in graph.sparse_initializer:
        if s.values.data_type in FLOAT_TYPES:
            params += math.prod(s.dims)
            nonzero_params += int(np.count_nonzero(numpy_helper.to_array(s.values)))
    macs = nonzero = 0
    by_op: dict[str, int] = {}
    zero, unshaped = set(), []
    for node in graph.node:
        if node.op_type not in COUNTED:
            zero.add(node.op_type)
            continue
        got = _node_macs(node, shapes, inits)
        if got is None:
            unshaped.append(node.name or node.output[0])
            continue
        dense, nz = got
        macs += dense
        nonzero += nz
        by_op[node.op_type] = by_op.get(node.op_type, 0) + dense
    return GraphCost(
        params, nonzero_params, macs, nonzero, list(shape), by_op, sorted(zero - {"Constant"}), unshaped
    )


def _node_macs(node, shapes: dict, inits: dict) -> tuple[int, int] | None:
    """(dense MACs, MACs with a nonzero weight) of one counted node, or None without shapes."""
    op = node.op_type
    if op in ("Conv", "ConvTranspose"):
        w, y = shapes.get(node.input[1]), shapes.get(node.output[0])
        x = shapes.get(node.input[0])
        if w is None or y is None or (op == "ConvTranspose" and x is None):
            return None
        per = math.prod(w[1:])
        dense = math.prod(y) * per if op == "Conv" else math.prod(x) * per
        weight = _weight(node.input[1], inits)
        if weight is None or weight.size == 0:
            return dense, dense
        # Conv: each output position of channel co uses W[co]'s nonzeros: N·H·W·nnz(W).
        positions = math.prod(y) // y[1] if op == "Conv" else math.prod(x) // x[1]
        return dense, positions * int(np.count_nonzero(weight))
    a, b, y = (shapes.get(n) for n in (node.input[0], node.input[1], node.output[0]))
    if a is None or y is None or b is None:
        return None
    if op == "Gemm":
        trans_a = next((attr.i for attr in node.attribute if attr.name == "transA"), 0)
        k = a[0] if trans_a else a[-1]
    else:
        k = a[-1]
    dense = math.prod(y) * k
    weight = _weight(node.input[1], inits)
    if weight is None or weight.ndim != 2 or not y or y[-1] == 0:
        return dense, dense
    # each output column n uses column n of B (row n with transB): rows-of-output · nnz(B)
    return dense, (math.prod(y) // y[-1]) * int(np.count_nonzero(weight))


def _weight(name: str, inits: dict):
    t = inits.get(name)
    return None if t is None or t.data_type not in FLOAT_TYPES else numpy_helper.to_array(t)


def _inferred(model: onnx.ModelProto, shape: tuple[int, ...]) -> onnx.ModelProto:
    """A copy with the first real input fixed to ``shape``, outputs unshaped, shapes inferred."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.graph.value_info[:]
    inits = {t.name for t in m.graph.initializer}
    real = [i for i in m.graph.input if i.name not in inits]
    if real:
        dims = real[0].type.tensor_type.shape
        dims.ClearField("dim")
        for d in shape:
            dims.dim.add().dim_value = int(d)
    for o in m.graph.output:
        o.type.tensor_type.ClearField("shape")
    return shape_inference.infer_shapes(m, strict_mode=False, data_prop=True)


def _shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    """Fully known shapes by value name (inputs, outputs, intermediates, initializers)."""
    out = {t.name: tuple(t.dims) for t in model.graph.initializer}
    for v in [*model.graph.input, *model.graph.value_info, *model.graph.output]:
        t = v.type.tensor_type
        if not t.HasField("shape"):
            continue
        dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
        if all(d is not None for d in dims):
            out[v.name] = tuple(dims)
    return out
