"""Find which ONNX initializer holds each pruned PyTorch weight.

Exporters may rename a weight or fold BatchNorm into it (scaling each output channel),
so a layer is matched by its parameter name first, then by shape among Conv
weight initializers whose zero set covers the pruned one. The sparse exporters encode
exactly these initializers, and the validator uses the same match to prove the zeros
survived export.

The unit matched is a Conv node's weight input, followed through ``Identity`` nodes to
its initializer: the torchscript exporter stores equal initializers once and feeds the
other convs through an Identity (at ``--amount 1``, every all-zero weight of one shape
after BatchNorm folding), so several layers may rightly share one initializer. Each Conv node
stands for one layer, except where layers hold the same weight bit for bit: the dynamo
exporter's optimizer merges identical convs on the same input into one node (common
subexpression elimination; a randomly initialised YOLO26 head's ``one2one_cv3`` is a deepcopy
of its ``cv3``), and that node then serves each of them.
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


def conv_weight_initializers(model) -> list[str | None]:
    """Per Conv node, in graph order: the initializer its weight input is, directly or through a
    chain of Identity nodes; None where something else computes the weight."""
    producers = {out: node for node in model.graph.node for out in node.output}
    names = {t.name for t in model.graph.initializer}
    found = []
    for node in model.graph.node:
        if node.op_type != "Conv" or len(node.input) < 2:
            continue
        w, seen = node.input[1], set()
        while w not in names and w in producers and producers[w].op_type == "Identity" and w not in seen:
            seen.add(w)
            w = producers[w].input[0]
        found.append(w if w in names else None)
    return found


def match_pruned(model, pruned: dict[str, np.ndarray], params: dict[str, str] | None = None) -> PrunedMatch:
    """``pruned`` maps layer -> weight; ``params`` layer -> its parameter name (default ``<layer>.weight``).

    Each layer claims one Conv node whose weight initializer holds at least its zeros: the
    one named after its parameter when there is one, else the first unclaimed of its shape
    (preferring one whose zeros are exactly the layer's). A layer is ``lossy`` when a
    same-shaped candidate exists but lost zeros, ``missing`` when none exists.
    """
    from onnx import numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    arrays: dict[str, np.ndarray] = {}

    def array(name: str) -> np.ndarray:
        if name not in arrays:
            arrays[name] = numpy_helper.to_array(inits[name])
        return arrays[name]

    nodes = [(i, w) for i, w in enumerate(conv_weight_initializers(model)) if w is not None]
    unclaimed = {i for i, _ in nodes}
    claimed: dict[int, np.ndarray] = {}  # node -> the weight of the layer that claimed it
    result = PrunedMatch()
    for name, weight in pruned.items():
        zeros = weight == 0
        key = (params or {}).get(name, f"{name}.weight")
        if key in inits:
            candidates = [(i, w) for i, w in nodes if w == key and i in unclaimed] or [(None, key)]
        else:
            candidates = [(i, w) for i, w in nodes if i in unclaimed]
        same_shape = [(i, w) for i, w in candidates if tuple(inits[w].dims) == weight.shape]
        match = None  # the first candidate whose zeros are exactly the layer's, else the first holding them
        for i, w in same_shape:
            zeros_there = array(w) == 0
            if np.array_equal(zeros_there, zeros):
                match = (i, w)
                break
            if match is None and not np.any(zeros & ~zeros_there):
                match = (i, w)
        if match is None:
            match = _merged(nodes, claimed, weight)
        if match is None:
            (result.lossy if same_shape else result.missing).append(name)
            continue
        if match[0] is not None:  # None: matched by parameter name alone, no Conv node
            unclaimed.discard(match[0])
            claimed.setdefault(match[0], weight)
        result.matches[name] = match[1]
    return result


def _merged(nodes, claimed: dict[int, np.ndarray], weight: np.ndarray):
    """A Conv node already claimed by a layer whose weight equals ``weight`` bit for bit (two
    identical convs the exporter merged into one node; see the module docstring), or None.
    Never for an all-zero weight: every all-zero layer of a shape is "identical", so sharing
    would let a layer lost in export pass at ``--amount 1``."""
    if not np.any(weight):
        return None
    for i, w in nodes:
        other = claimed.get(i)
        if other is not None and other.shape == weight.shape and np.array_equal(other, weight):
            return i, w
    return None
