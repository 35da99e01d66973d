"""--finetune-fn module:function: the user's own loop, loss and data. The function gets the
pruned model (a torch.nn.Module) and returns it trained; what comes back must be an nn.Module on
the CPU with the same parameters (names and shapes). Pruning state it leaves (torch's prune
hooks, parametrizations, weight_norm) is folded into plain weights (``model.plain``), and the
unstructured masks are re-applied by the caller, which reports how many weights were revived."""

from __future__ import annotations

import torch.nn as nn

from secateurs.errors import InputError
from secateurs.model.factory import import_callable
from secateurs.model.plain import make_plain


def run_function(spec: str, model: nn.Module) -> tuple[nn.Module, list[str]]:
    """(the trained module, notes from making it plain); InputError (exit 3) names what is wrong."""
    fn = import_callable(spec)
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    try:
        result = fn(model)
    except Exception as e:  # user code: any failure is an input problem
        raise InputError(f"--finetune-fn {spec}: raised {type(e).__name__}: {e}") from e
    if not isinstance(result, nn.Module):
        raise InputError(
            f"--finetune-fn {spec}: returned {type(result).__name__}, not a torch.nn.Module; return the trained model"
        )
    notes = [f"--finetune-fn {spec}: {n}" for n in make_plain(result)]
    got = {name: tuple(p.shape) for name, p in result.named_parameters()}
    if got != shapes:
        missing = sorted(set(shapes) - set(got))
        extra = sorted(set(got) - set(shapes))
        changed = [n for n in shapes if n in got and shapes[n] != got[n]]  # in the model's order
        what = (
            f"parameter {changed[0]} is {list(got[changed[0]])}, was {list(shapes[changed[0]])}"
            if changed
            else f"parameters missing: {', '.join(missing[:3]) or 'none'}; new: {', '.join(extra[:3]) or 'none'}"
        )
        raise InputError(
            f"--finetune-fn {spec}: returned a model with other parameters ({what}); train it in place"
        )
    devices = {p.device.type for p in result.parameters()}
    if devices - {"cpu"}:
        raise InputError(
            f"--finetune-fn {spec}: returned parameters on {', '.join(sorted(devices))}; move it back to the CPU"
        )
    result.eval()
    return result, notes
