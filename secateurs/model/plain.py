"""Make a loaded module plain: what training left on it is undone, and each undoing noted.

- wrappers: ``nn.DataParallel``/``DistributedDataParallel`` (``.module``) and
  ``torch.compile``'s ``OptimizedModule`` (``._orig_mod``), nested in any order;
- weight-recomputing state on every module type, not only Conv2d:
  ``torch.nn.utils.prune`` (``X_orig`` + ``X_mask`` + a forward pre-hook), the hook-based
  ``torch.nn.utils.weight_norm`` and ``spectral_norm``, and ``torch.nn.utils.parametrize``
  (which ``nn.utils.parametrizations.weight_norm``/``spectral_norm`` use). Each is folded
  into a plain parameter holding the value the forward pass computed (eval mode);
- half precision: float16/bfloat16 parameters and buffers are widened to float32. The
  widening is exact, so every |w| and therefore every pruning decision is the same as on
  the original values; the export precision is float32, as YOLOv5's export on a CPU.

A module whose forward still transforms its weight after this (a hook secateurs does not
know, a Conv2d subclass that standardizes its weight) is caught after pruning by
``model.conv_calls``.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn.parameter import is_lazy
from torch.nn.utils import parametrize, prune, remove_spectral_norm, remove_weight_norm
from torch.nn.utils.spectral_norm import (
    SpectralNorm,
    SpectralNormLoadStateDictPreHook,
    SpectralNormStateDictHook,
)
from torch.nn.utils.weight_norm import WeightNorm

from secateurs.errors import InputError

HALF_DTYPES = ("float16", "bfloat16")


def _inner(module):
    """The module a DataParallel/DDP or torch.compile wrapper holds, or None if not a wrapper."""
    if isinstance(module, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        return module.module
    if type(module).__name__ == "OptimizedModule" and isinstance(
        getattr(module, "_orig_mod", None), nn.Module
    ):
        return module._orig_mod
    return None


def unwrap(model) -> tuple[object, list[str]]:
    """Strip DataParallel/DDP and torch.compile wrappers, at the top and around any submodule
    (``model.backbone = torch.compile(model.backbone)``); return (inner module, notes)."""
    notes = []
    while (inner := _inner(model)) is not None:
        notes.append(f"unwrapped {_wrapper_name(model)}: using the module it wraps")
        model = inner
    for name, parent in list(model.named_modules()):
        for child_name, child in list(parent.named_children()):
            wrapped = False
            while (inner := _inner(child)) is not None:
                wrapped, child = True, inner
            if wrapped:
                setattr(parent, child_name, child)
                path = f"{name}.{child_name}" if name else child_name
                notes.append(f"{path}: unwrapped a DataParallel/torch.compile wrapper around it")
    return model, notes


def _wrapper_name(module) -> str:
    name = type(module).__name__
    return f"torch.compile's {name}" if name == "OptimizedModule" else name


def make_plain(model) -> list[str]:
    """Fold prune state, weight/spectral norm hooks and parametrizations on every submodule."""
    notes = []
    if not isinstance(model, nn.Module) or _is_script(model):
        return notes  # TorchScript modules carry none of this as Python state
    for name, module in list(model.named_modules()):
        label = name or "<root>"
        notes += _remove_prune_state(label, module)
        notes += _remove_norm_hooks(label, module)
        notes += _remove_parametrizations(label, module)
    return notes


def _is_script(model) -> bool:
    return isinstance(model, torch.jit.ScriptModule)


def _remove_prune_state(label: str, module) -> list[str]:
    names = []
    for hook in list(module._forward_pre_hooks.values()):
        if isinstance(hook, prune.BasePruningMethod):
            tensor = hook._tensor_name
            if hasattr(module, f"{tensor}_orig"):
                prune.remove(module, tensor)
                names.append(tensor)
    return [f"{label}: torch prune mask on {', '.join(names)} made permanent"] if names else []


def _remove_norm_hooks(label: str, module) -> list[str]:
    notes = []
    for hook in list(module._forward_pre_hooks.values()):
        if isinstance(hook, WeightNorm):
            remove_weight_norm(module, hook.name)
            notes.append(f"{label}: weight_norm hook on {hook.name} folded into a plain tensor")
        elif isinstance(hook, SpectralNorm):
            remove_spectral_norm(module, hook.name)
            _drop_spectral_state_hooks(module)
            notes.append(f"{label}: spectral_norm hook on {hook.name} folded into a plain tensor")
    return notes


def _drop_spectral_state_hooks(module) -> None:
    """``remove_spectral_norm`` leaves its state_dict hooks behind when torch wrapped them
    (``_WrappedHook``), and they then demand ``weight_orig``/``weight_u`` on every
    load_state_dict; drop them, so the plain module loads a plain state_dict."""
    kinds = (SpectralNormLoadStateDictPreHook, SpectralNormStateDictHook)
    for hooks in (module._load_state_dict_pre_hooks, module._state_dict_hooks):
        for key, hook in list(hooks.items()):
            if isinstance(hook, kinds) or isinstance(getattr(hook, "hook", None), kinds):
                del hooks[key]


def _remove_parametrizations(label: str, module) -> list[str]:
    if not parametrize.is_parametrized(module):
        return []
    names = list(module.parametrizations.keys())
    for tensor in names:
        parametrize.remove_parametrizations(module, tensor, leave_parametrized=True)
    return [f"{label}: parametrization of {', '.join(names)} removed (value kept)"]


def half_dtypes(model) -> list[str]:
    """The half-precision dtypes among the model's parameters and buffers, sorted."""
    found = {str(t.dtype).removeprefix("torch.") for t in _tensors(model)}
    return sorted(found & set(HALF_DTYPES))


def to_float32(model) -> list[str]:
    """Widen float16/bfloat16 parameters and buffers to float32 in place (exact)."""
    found = half_dtypes(model)
    if not found:
        return []
    half = (torch.float16, torch.bfloat16)
    model._apply(lambda t: t.float() if t.dtype in half else t)
    return [
        f"weights converted from {'/'.join(found)} to float32 (exact widening: pruning decisions"
        " are those of the original values); export precision float32"
    ]


def _tensors(model):
    yield from model.parameters()
    yield from model.buffers()


def has_lazy(model) -> bool:
    """Whether any parameter or buffer is still uninitialized (``nn.LazyConv2d`` & co.)."""
    return any(is_lazy(t) for t in _tensors(model))


def materialize(model, shape: tuple[int, ...]) -> list[str]:
    """One dry forward pass in eval mode (no statistics updated) gives lazy modules their shapes."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(*shape))
    except Exception as e:  # user model code
        raise InputError(
            f"lazy modules could not be materialized by a forward pass at {tuple(shape)}:"
            f" {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
        ) from e
    finally:
        model.train(was_training)
    return [f"lazy modules materialized by one forward pass at {'x'.join(map(str, shape))}"]
