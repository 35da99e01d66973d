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

    Raises ValueError if a name is unknown or depends on a graph input.
    """
    from onnx import helper, shape_inference

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
    nodes = [n for n in graph.node if id(n) in needed_nodes]
    sub = helper.make_graph(
        nodes,
        "constant_subgraph",
        inputs=[],
        outputs=[helper.make_empty_tensor_value_info(n) for n in wanted],
        initializer=[inits[n] for n in sorted(needed_inits)],
    )
    out = helper.make_model(sub, opset_imports=list(model.opset_import))
    out.ir_version = model.ir_version
    inferred = shape_inference.infer_shapes(out, strict_mode=True)
    types = {v.name: v.type for v in inferred.graph.value_info}
    for v in out.graph.output:
        if v.name in types:
            v.type.CopyFrom(types[v.name])
        elif v.name in inits:
            v.type.tensor_type.elem_type = inits[v.name].data_type
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

        session = ort.InferenceSession(
            sub.SerializeToString(), session_options(), providers=["CPUExecutionProvider"]
        )
        results = session.run(None, {})
    else:
        raise ValueError(f"unknown backend {backend!r}; choose 'reference' or 'onnxruntime'")
    return dict(zip(names, results, strict=True))
