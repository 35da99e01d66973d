"""The post-condition of pruning: each pruned conv's forward really uses its zeroed weight.

Zeros written into a ``weight`` tensor only count if the convolution receives that tensor.
A module that recomputes its weight in forward (a hook-based ``weight_norm`` left in place,
an unknown hook, a Conv2d subclass that standardizes its weight) hands the convolution a
different, dense tensor, and every report built on the parameter would be a lie.

So one forward pass runs under a ``TorchDispatchMode`` that records the weight argument of
every ``aten.convolution`` call, at the dispatcher level, where plain modules, TorchScript
archives and torch.export graphs all arrive. Each pruned parameter must be among them:
the same storage, or a tensor equal to it element for element.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode

from secateurs.errors import InputError


def _conv_ops() -> set:
    aten = torch.ops.aten
    names = ("convolution", "_convolution", "conv2d", "mkldnn_convolution", "_slow_conv2d_forward")
    return {getattr(aten, n).default for n in names if hasattr(aten, n)}


def convolution_weights(model, example) -> list:
    """The weight tensors handed to convolution ops during one forward pass of ``model``."""
    ops = _conv_ops()

    class Recorder(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.weights = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func in ops and len(args) > 1 and isinstance(args[1], torch.Tensor):
                self.weights.append(args[1])
            return func(*args, **(kwargs or {}))

    with torch.no_grad(), Recorder() as recorder:
        model(example)
    return recorder.weights


def unused_weights(params: dict[str, object], used: list) -> list[str]:
    """Names in ``params`` (name -> tensor) that no recorded convolution received."""
    by_storage = {(w.data_ptr(), tuple(w.shape), w.stride()) for w in used}
    missing = []
    for name, p in params.items():
        if (p.data_ptr(), tuple(p.shape), p.stride()) in by_storage:
            continue
        if any(w.shape == p.shape and w.dtype == p.dtype and torch.equal(w, p) for w in used):
            continue
        missing.append(name)
    return missing


def check_pruned_weights_used(model, params: dict[str, object], example) -> None:
    """Raise InputError (exit 3) naming each pruned layer whose forward does not use its zeros.

    ``params`` maps each pruned layer to its weight tensor; ``example`` is one input tensor.
    """
    if not params:
        return
    before = {name: p.detach().clone() for name, p in params.items()}
    used = convolution_weights(model, example)
    rewritten = [name for name, p in params.items() if not torch.equal(p, before[name])]
    if rewritten:  # e.g. a pre-hook copying a dense master weight into it, in place
        raise InputError(
            f"layer {rewritten[0]!r}: its forward rewrites the pruned weight in place"
            f" ({_why(model, rewritten[0])}), so the zeros do not survive one inference;"
            " secateurs cannot prune it permanently (exclude it with --exclude)"
        )
    missing = unused_weights(params, used)
    if missing:
        first = missing[0]
        more = f" (and {len(missing) - 1} more: {', '.join(missing[1:4])})" if len(missing) > 1 else ""
        raise InputError(
            f"layer {first!r}: its convolution does not receive the pruned weight"
            f" ({_why(model, first)}), so zeros written into it would not reach the model{more};"
            " secateurs cannot prune it permanently (exclude it with --exclude)"
        )


def _why(model, layer: str) -> str:
    """A best guess at what transforms the weight, for the error message."""
    try:
        module = model.get_submodule(layer)
    except AttributeError:
        return "the weight is transformed before the convolution"
    hooks = [type(h).__name__ for h in module._forward_pre_hooks.values()]
    if hooks:
        return f"{type(module).__name__} has a forward pre-hook ({', '.join(hooks)}) that recomputes it"
    if isinstance(module, nn.Conv2d) and (
        type(module).forward is not nn.Conv2d.forward
        or type(module)._conv_forward is not nn.Conv2d._conv_forward
    ):
        return f"{type(module).__name__} overrides the Conv2d forward and transforms its weight"
    return f"{type(module).__name__}'s forward passes the convolution another tensor"
