"""Run only the part of a graph that computes given tensors from initializers.

Used to prove a self-decoding model's decoder subgraphs reproduce the weights exactly,
in the ONNX reference evaluator or in onnxruntime, without feeding model inputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx


def constant_subgraph(model: onnx.ModelProto, names: Iterable[str]) -> onnx.ModelProto:
    """A model with no inputs whose outputs are ``names``, computed from initializers.

    The outputs carry no type: both backends infer them, and a type error in the subgraph
    fails there. (Shape inference here would re-serialize every initializer; the full
    checker already runs it on the model the subgraph comes from.) Raises ValueError if a
    name is unknown or depends on a graph input.
    """
    import onnx
    from onnx import helper

    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    inits = {t.name: t for t in graph.initializer}
    wanted = list(names)
    needed_nodes: set[int] = set()
    needed_inits: set[str] = set()
    stack = list(wanted)
    seen: set[str] = set()
    while stack:
        name = stack.pop()
        if name in seen or name == "":
            continue
        seen.add(name)
        if name in inits:
            needed_inits.add(name)
        elif name in producer:
            node = producer[name]
            needed_nodes.add(id(node))
            stack.extend(node.input)
        else:
            raise ValueError(f"tensor {name!r} is not computed from initializers alone")
    out = onnx.ModelProto(ir_version=model.ir_version, opset_import=model.opset_import)
    sub = out.graph  # filled in place: helper.make_graph + make_model would copy every tensor twice
    sub.name = "constant_subgraph"
    sub.node.extend(n for n in graph.node if id(n) in needed_nodes)
    sub.initializer.extend(inits[n] for n in sorted(needed_inits))
    sub.output.extend(helper.make_empty_tensor_value_info(n) for n in wanted)
    return out


def evaluate_constants(
    model: onnx.ModelProto, names: Iterable[str], *, backend: str = "reference"
) -> dict[str, np.ndarray]:
    """Compute ``names`` from initializers with ``backend`` "reference" or "onnxruntime"."""
    names = list(names)
    sub = constant_subgraph(model, names)
    if backend == "reference":
        from onnx.reference import ReferenceEvaluator

        results = ReferenceEvaluator(sub).run(None, {})
    elif backend == "onnxruntime":
        import onnxruntime as ort

        from secateurs.validators.onnxruntime_run import session_options

        options = session_options()
        # Run the nodes once in run() instead of folding them at session creation and then
        # copying the folded results out: the same CPU kernels, ~25% less time.
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(sub.SerializeToString(), options, providers=["CPUExecutionProvider"])
        results = session.run(None, {})
    else:
        raise ValueError(f"unknown backend {backend!r}; choose 'reference' or 'onnxruntime'")
    return dict(zip(names, results, strict=True))
