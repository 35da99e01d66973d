"""Find which ONNX initializer holds each pruned PyTorch weight.

Exporters may rename a weight or fold BatchNorm into it (scaling each output channel),
so a layer is matched by its parameter name first, then by shape among Conv
weight initializers whose zero set covers the pruned one. The sparse exporters encode
exactly these initializers, and the validator uses the same match to prove the zeros
survived export.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class PrunedMatch:
    matches: dict[str, str] = field(default_factory=dict)  # layer name -> initializer name
    lossy: list[str] = field(default_factory=list)  # a same-shaped weight exists but lost zeros
    missing: list[str] = field(default_factory=list)  # no same-shaped Conv weight at all


def conv_weight_sources(model) -> dict[str, str]:
    """Map each Conv node's weight input to the op producing it ('initializer' if none)."""
    producers = {out: node for node in model.graph.node for out in node.output}
    names = {t.name for t in model.graph.initializer}
    sources = {}
    for node in model.graph.node:
        if node.op_type == "Conv" and len(node.input) > 1:
            w = node.input[1]
            sources[w] = "initializer" if w in names else producers[w].op_type if w in producers else "input"
    return sources


def match_pruned(model, pruned: dict[str, np.ndarray], params: dict[str, str] | None = None) -> PrunedMatch:
    """``pruned`` maps layer -> weight; ``params`` layer -> its parameter name (default ``<layer>.weight``)."""
    from onnx import numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    arrays: dict[str, np.ndarray] = {}

    def array(name: str) -> np.ndarray:
        if name not in arrays:
            arrays[name] = numpy_helper.to_array(inits[name])
        return arrays[name]

    conv_ws = [w for w in conv_weight_sources(model) if w in inits]
    unclaimed = set(conv_ws)
    result = PrunedMatch()
    for name, weight in pruned.items():
        zeros = weight == 0
        key = (params or {}).get(name, f"{name}.weight")
        candidates = [key] if key in inits else [w for w in conv_ws if w in unclaimed]
        same_shape = [w for w in candidates if tuple(inits[w].dims) == weight.shape]
        match = next((w for w in same_shape if (array(w)[zeros] == 0).all()), None)
        if match is None:
            (result.lossy if same_shape else result.missing).append(name)
            continue
        unclaimed.discard(match)
        result.matches[name] = match
    return result
