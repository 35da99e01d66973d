"""Which tensors are Conv2d weights, in any kind of model secateurs loads.

- ordinary modules: every ``nn.Conv2d``;
- TorchScript archives: submodules whose ``original_name`` is ``Conv2d``;
- torch.export programs (fx GraphModules): the weight of every ``aten.conv2d`` /
  ``aten.convolution`` call with a 4-D weight held as a parameter.
A tensor shared by several convs (tied weights) is listed once, under its first name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.fx
import torch.nn as nn

from secateurs.config import check_exclude
from secateurs.errors import InputError, UsageError


@dataclass
class ConvWeight:
    layer: str  # module path, e.g. "layers.0.conv1"
    param: str  # qualified parameter name, e.g. "layers.0.conv1.weight"
    weight: object  # the torch.nn.Parameter itself, pruned in place


def get_param(model, qualified: str):
    obj = model
    for part in qualified.split("."):
        obj = getattr(obj, part)
    return obj


def _module_convs(model):
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d) or getattr(module, "original_name", None) == "Conv2d":
            yield name, f"{name}.weight" if name else "weight"


def _graph_convs(model):
    conv_ops = {torch.ops.aten.conv2d.default, torch.ops.aten.convolution.default}
    for node in model.graph.nodes:
        if node.op == "call_function" and node.target in conv_ops and len(node.args) > 1:
            w = node.args[1]
            if getattr(w, "op", None) == "get_attr":
                param = get_param(model, w.target)
                if param.dim() == 4:
                    yield w.target.removesuffix(".weight"), w.target
            elif _is_2d_conv(node):  # the program computes this weight (parametrization, prune mask ...)
                yield _module_path(node), None


def _is_2d_conv(node) -> bool:
    val = getattr(node.args[1], "meta", {}).get("val")
    return getattr(val, "dim", lambda: 0)() == 4


def _module_path(node) -> str:
    """The nn.Module path torch.export recorded for ``node`` (its innermost module)."""
    stack = node.meta.get("nn_module_stack") or {}
    paths = [path for path, _ in stack.values()]
    return paths[-1] if paths else node.name


def find_conv_weights(model, exclude: str | None = None) -> tuple[list[ConvWeight], list[str]]:
    """The conv weights to prune (after ``--exclude``), and notes on what was special.

    An ``exclude`` pattern that matches no Conv2d layer is a usage error naming it: a typo
    must not leave every layer pruned in silence.
    """
    chosen, _, notes = partition_convs(model, exclude)
    return chosen, notes


def partition_convs(
    model, exclude: str | None = None
) -> tuple[list[ConvWeight], list[tuple[str, str | None]], list[str]]:
    """(conv weights to prune, (layer, parameter name or None) of those ``exclude`` matched,
    notes), in the model's order."""
    check_exclude(exclude)
    pattern = re.compile(exclude) if exclude else None
    found = _graph_convs(model) if isinstance(model, torch.fx.GraphModule) else _module_convs(model)
    chosen, excluded, seen, notes, names = [], [], {}, [], []
    for layer, param_name in found:
        names.append(layer)
        if pattern and pattern.search(layer):
            excluded.append((layer, param_name))
            continue
        if param_name is None:
            raise InputError(
                f"layer {layer!r}: the torch.export program computes this conv's weight in the graph"
                " (a parametrization such as weight_norm/spectral_norm, or torch prune state, exported"
                " with it), so there is no stored weight to prune; export the program after"
                " parametrize.remove_parametrizations / prune.remove, or --exclude the layer"
            )
        weight = get_param(model, param_name)
        if id(weight) in seen:
            notes.append(f"{param_name} is tied to {seen[id(weight)]}; pruned once")
            continue
        seen[id(weight)] = param_name
        chosen.append(ConvWeight(layer, param_name, weight))
    if pattern and not excluded:
        listed = ", ".join(names[:12]) + (f" ... ({len(names)} in all)" if len(names) > 12 else "")
        raise UsageError(
            f"--exclude {exclude!r} matches no Conv2d layer"
            + (f"; the Conv2d layers are: {listed}" if names else "; the model has no Conv2d layers")
        )
    return chosen, excluded, notes
