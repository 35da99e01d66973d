"""Stage 1, load: turn a model spec into an eval-mode nn.Module plus a probed example input.

Specs:
  builtin:NAME          a demo model shipped with secateurs, with trained weights
  package.module:attr   any importable callable returning an nn.Module
  path/to/file          a whole-model file: torch.export .pt2, or (with --trust-model-code)
                        a TorchScript archive or a pickled nn.Module (see model_file)
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from secateurs.errors import InputError, UsageError
from secateurs.pipeline.context import ModelInfo, RunContext
from secateurs.pipeline.weights_file import read_state_dict

FACTORY_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def run(ctx: RunContext) -> None:
    cfg = ctx.config
    ctx.model, ctx.info = load_model(cfg.model, cfg.weights, cfg.input_shape, cfg.trust_model_code)


def load_model(spec: str, weights: Path | None, input_shape: tuple[int, ...] | None, trust: bool = False):
    """Build the model, load weights strictly, and run one forward pass to prove the shape."""
    import torch

    model, source, declared_shape, notes = build(spec, trust)
    if weights is None and source == "builtin":
        from secateurs.models import get_builtin

        weights = get_builtin(spec.split(":", 1)[1]).weights
    if weights is not None:
        notes += load_weights(model, Path(weights))
    shape = input_shape or declared_shape
    if shape is None:
        raise UsageError(
            f"{spec}: --input-shape is required (e.g. --input-shape 1,3,224,224);"
            " the model does not declare an input_shape attribute"
        )
    if source != "exported-program":  # a torch.export program is already captured in eval mode
        model.eval()
    info = ModelInfo(spec=spec, source=source, input_shape=tuple(shape), notes=notes)
    info.weights = str(weights) if weights else None
    torch.manual_seed(0)
    info.output_names, outputs = probe(model, torch.randn(*shape))
    info.output_shapes = [list(o.shape) for o in outputs]
    return model, info


def build(spec: str, trust: bool = False):
    """Return (module, source, declared input shape or None, notes)."""
    import torch.nn as nn

    if spec.startswith("builtin:"):
        from secateurs.models import get_builtin

        builtin = get_builtin(spec.split(":", 1)[1])
        return builtin.factory(), "builtin", builtin.input_shape, []
    if Path(spec).exists() and not FACTORY_RE.match(spec):
        from secateurs.pipeline.model_file import load_model_file

        return load_model_file(Path(spec), trust)
    if not FACTORY_RE.match(spec):
        raise UsageError(
            f"{spec!r} is not a model spec or an existing file; use builtin:NAME (lenet, resnet),"
            " package.module:factory, or a .pt2/TorchScript/pickled model file"
        )
    module_name, attr = spec.split(":", 1)
    try:
        obj = importlib.import_module(module_name)
    except ImportError as e:
        raise InputError(f"{spec}: cannot import module {module_name!r} ({e})") from e
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise InputError(f"{spec}: module {module_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise InputError(f"{spec}: {attr!r} is not callable")
    try:
        model = obj()
    except Exception as e:  # user code: any failure is an input problem
        raise InputError(f"{spec}: factory raised {type(e).__name__}: {e}") from e
    if not isinstance(model, nn.Module):
        raise InputError(f"{spec}: factory returned {type(model).__name__}, not a torch.nn.Module")
    declared = getattr(model, "input_shape", None)
    return model, "factory", tuple(declared) if declared else None, []


def load_weights(model, path: Path) -> list[str]:
    """Load a state_dict strictly; a mismatch lists missing, unexpected and mis-shaped keys."""
    state, notes = read_state_dict(path)
    expected = model.state_dict()
    notes += fold_prune_masks(state, expected, path)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mis_shaped = [
        f"{k} {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in sorted(set(state) & set(expected))
        if tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or mis_shaped:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mis_shaped)):
            if keys:
                parts.append(f"{label} ({len(keys)}): {_short(keys)}")
        raise InputError(f"{path}: weights do not match the model; " + "; ".join(parts))
    model.load_state_dict(state, strict=True)
    return notes


def fold_prune_masks(state: dict, expected: dict, path: Path) -> list[str]:
    """``X_orig`` + ``X_mask`` saved by torch.nn.utils.prune become the plain ``X`` the model wants."""
    folded = []
    for key in [k for k in state if k.endswith("_orig")]:
        base = key[: -len("_orig")]
        if f"{base}_mask" in state and base in expected and base not in state:
            state[base] = state.pop(key) * state.pop(f"{base}_mask")
            folded.append(base)
    return [f"{path.name}: folded torch prune masks into {_short(folded)}"] if folded else []


def probe(model, example) -> tuple[list[str], list]:
    """One forward pass; on failure name the input shape and the innermost layer running."""
    import torch

    running: list[str] = []

    def enter(name):
        return lambda module, args: running.append(name)  # append returns None: input kept

    def leave(module, args, output) -> None:  # must return None, or it replaces the output
        running.pop()

    hooks = []
    if not isinstance(model, torch.jit.ScriptModule):  # TorchScript modules take no hooks
        for name, module in model.named_modules():
            hooks.append(module.register_forward_pre_hook(enter(name)))
            hooks.append(module.register_forward_hook(leave))
    try:
        with torch.no_grad():
            out = model(example)
    except Exception as e:
        layer = running[-1] if running else "?"
        raise InputError(
            f"forward pass failed for input shape {tuple(example.shape)} at layer"
            f" '{layer or '<root>'}': {type(e).__name__}: {str(e).splitlines()[0][:200]}"
        ) from e
    finally:
        for h in hooks:
            h.remove()
    names, outputs = named_outputs(out)
    if not outputs or not all(isinstance(o, torch.Tensor) for o in outputs):
        raise InputError("model output must be a tensor, a tuple/list of tensors or a dict of tensors")
    return names, outputs


def named_outputs(out) -> tuple[list[str], list]:
    """Flatten a model's output to (ONNX output names, tensors): output, output_i, or dict keys."""
    if isinstance(out, dict):
        return [str(k) for k in out], list(out.values())
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return (["output"] if len(outs) == 1 else [f"output_{i}" for i in range(len(outs))]), outs


def _short(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... (+{len(keys) - limit} more)" if len(keys) > limit else "")
