"""Torch-Pruning's dependency graph, as secateurs reads it: trace, output layers, and couplings
that must not be cut.

Kept apart from ``channels`` (what to cut): this module only answers questions about the
graph. Torch-Pruning traces through autograd, so the trace runs with gradients enabled and
every parameter temporarily requiring grad; the model is left as it was.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import torch
import torch_pruning as tp
from torch_pruning.ops import OPTYPE

from secateurs.errors import InputError

# Layers that mix channels: a model output's width is set by the last of these before it.
MIXING = (OPTYPE.CONV, OPTYPE.LINEAR)
# Out-channel pruning of these nodes also cuts their input tensor (BatchNorm, depthwise conv,
# add/mul): if that input is a tensor the graph does not hold (the model's input, a buffer or
# a constant), Torch-Pruning cannot cut it and the model would break.
SAME_WIDTH = (OPTYPE.BN, OPTYPE.DEPTHWISE_CONV, OPTYPE.GN, OPTYPE.IN, OPTYPE.LN, OPTYPE.PRELU)


@contextmanager
def _grad_everywhere(model):
    params = list(model.parameters())
    before = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(True)
        with torch.enable_grad():
            yield
    finally:
        for p, flag in zip(params, before):
            p.requires_grad_(flag)


def trace(model, example) -> tuple[tp.DependencyGraph, set, list[str]]:
    """(dependency graph, grad_fns of the model's output tensors, notes on ops Torch-Pruning
    did not know and treated as element-wise)."""
    outputs: list = []

    def keep(out):
        outputs.extend(t for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor))
        return out

    with _grad_everywhere(model), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            graph = tp.DependencyGraph().build_dependency(model, example, output_transform=keep, verbose=True)
        except Exception as e:  # Torch-Pruning raises many types on graphs it cannot trace
            where = _failed_at(e)
            raise InputError(
                f"Torch-Pruning cannot trace the model for channel pruning{where} ({type(e).__name__}:"
                f" {str(e).strip().splitlines()[0][:200] if str(e).strip() else ''}); use --structure"
                " unstructured"
            ) from e
    unknown = sorted(
        {
            str(w.message).split("operation ")[-1].split(" encountered")[0]
            for w in caught
            if "Unknown operation" in str(w.message)
        }
    )
    notes = [f"Torch-Pruning treated unknown ops as element-wise: {', '.join(unknown)}"] if unknown else []
    return graph, {t.grad_fn for t in outputs if t.grad_fn is not None}, notes


def _failed_at(error: Exception) -> str:
    """The text " at the <op> after layer NAME" where Torch-Pruning failed on one graph node (its index
    mapping of a reshape, concat or split: a channel shuffle's view), else ""."""
    tb, node, graph = error.__traceback__, None, None
    while tb is not None:
        local = tb.tb_frame.f_locals
        if tb.tb_frame.f_code.co_name.startswith("update_") and "node" in local and "graph" in local:
            node, graph = local["node"], local["graph"]
        tb = tb.tb_next
    names = getattr(graph, "_module2name", None)
    if node is None or not names:
        return ""
    op = getattr(node.type, "name", "op").lower()
    seen, queue = set(), list(node.inputs)
    while queue:  # breadth first: the nearest named module upstream, whose channels meet the op
        n = queue.pop(0)
        if n in seen:
            continue
        seen.add(n)
        if isinstance(n.module, torch.nn.Module) and n.module in names:
            return f" at a {op} after layer {names[n.module]}"
        queue.extend(n.inputs)
    return f" at a {op}"


def name_of(graph, node) -> str:
    return graph._module2name.get(node.module) or str(node.module)


def output_nodes(graph, out_grad_fns: set) -> list:
    return [n for n in graph.module2node.values() if n.grad_fn in out_grad_fns or n.type == OPTYPE.OUTPUT]


def output_layers(graph, out_grad_fns: set) -> list:
    """The channel-mixing layers (Conv2d, Linear) whose output reaches a model output through
    no further mixing layer: their channel count is the output's width, so they keep it."""
    found, seen, stack = [], set(), output_nodes(graph, out_grad_fns)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node.type in MIXING:
            found.append(node.module)
            continue
        stack.extend(node.inputs)
    order = {m: i for i, m in enumerate(graph.model.modules())}
    return sorted(dict.fromkeys(found), key=lambda m: order.get(m, len(order)))


def uncuttable(graph, group, outputs: set) -> str | None:
    """Why ``group`` must not be cut, or None: it reaches a model output, or cutting it would
    also cut the model's input (a BatchNorm or depthwise conv reading it). Couplings through
    add/mul with a tensor outside the graph are not visible here (``y * 2`` and ``y * buffer``
    trace alike): the forward pass after pruning catches those (``channels.check_pruned``)."""
    for dep, _ in group:
        node = dep.target
        if not graph.is_out_channel_pruning_fn(dep.handler):
            continue
        if node in outputs:
            return f"reaches the model output at {name_of(graph, node)}"
        if node.type in SAME_WIDTH and _reads_outside(node):
            return f"coupled to the model's input through {name_of(graph, node)}"
    return None


def _reads_outside(node) -> bool:
    """Whether ``node``'s input channels come, through ops that keep the width, from a tensor
    the graph does not hold (the model's input): a node with no graph input on the way."""
    seen, stack = set(), [node]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        if n is not node and n.type in MIXING:
            continue
        if not n.inputs:
            return True
        stack.extend(n.inputs)
    return False
