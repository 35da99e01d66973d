"""Shared builders for the sparse-encoding tests: pruned arrays and tiny ONNX carriers."""

import numpy as np
import onnx
from onnx import helper, numpy_helper


def pruned(shape, sparsity, dtype, seed=0) -> np.ndarray:
    """Gaussian weights with the smallest-magnitude fraction set to +0.0."""
    w = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    k = int(round(sparsity * w.size))
    flat = w.reshape(-1)
    flat[np.argsort(np.abs(flat), kind="stable")[:k]] = 0
    return w


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def identity_model(weights: dict[str, np.ndarray], opset: int = 18) -> onnx.ModelProto:
    """Each weight is an initializer routed to a graph output via Identity."""
    nodes, outputs = [], []
    for i, (name, w) in enumerate(weights.items()):
        nodes.append(helper.make_node("Identity", [name], [f"out{i}"]))
        dtype = helper.np_dtype_to_tensor_dtype(w.dtype)
        outputs.append(helper.make_tensor_value_info(f"out{i}", dtype, list(w.shape)))
    inits = [numpy_helper.from_array(w, name) for name, w in weights.items()]
    graph = helper.make_graph(nodes, "g", [], outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    return model
