"""Load a model: turn a model spec into a plain eval-mode nn.Module plus a probed example input.

Specs:
  builtin:NAME          a demo model shipped with secateurs, with trained weights
  package.module:attr   any importable callable returning an nn.Module
  path/to/file          a whole-model file: torch.export .pt2, or (with --trust-model-code)
                        a TorchScript archive or a pickled nn.Module (see model_file)
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from secateurs.errors import InputError, UsageError
from secateurs.model.factory import FACTORY_RE, call_factory, check_model_spec, cwd_on_path
from secateurs.model.model_file import Loaded, load_model_file
from secateurs.model.outputs import named_outputs
from secateurs.model.plain import HALF_DTYPES, has_lazy, make_plain, materialize, to_float32, unwrap
from secateurs.model.records import ModelInfo
from secateurs.model.weights_file import first_line, read_state_dict
from secateurs.models import get_builtin


def load_model(spec: str, weights: Path | None, input_shape: tuple[int, ...] | None, trust: bool = False):
    """Build the model as training left it and make it a plain eval-mode float32 module.

    Order: build or read -> unwrap DataParallel/DDP/torch.compile -> eval -> materialize
    lazy modules -> load weights strictly -> widen float16/bfloat16 to float32 -> fold
    prune state, norm hooks and parametrizations (see ``secateurs.model.plain``) -> one
    forward pass to prove the input shape and name the outputs. Returns (module, ModelInfo).
    """
    loaded = build(spec, trust)
    model, notes = loaded.module, loaded.notes
    model, unwrapped = unwrap(model)
    notes += unwrapped
    given = weights
    if weights is None and loaded.source == "builtin":
        weights = get_builtin(spec.split(":", 1)[1]).weights
    shape = input_shape or loaded.input_shape or _declared_shape(model)
    if loaded.source != "exported-program":  # a program is switched by model.program instead
        model.eval()
    if has_lazy(model):
        if shape is None:
            raise UsageError(f"{spec}: --input-shape is required to materialize the model's lazy modules")
        notes += materialize(model, shape)
    if weights is not None:
        notes += load_weights(model, Path(weights))
    notes += to_float32(model)
    notes += make_plain(model)
    if shape is None:
        raise UsageError(
            f"{spec}: --input-shape is required (e.g. --input-shape 1,3,224,224);"
            " the model does not declare an input_shape attribute"
        )
    info = ModelInfo(spec=spec, source=loaded.source, input_shape=tuple(shape), notes=notes)
    info.fixed_batch = loaded.fixed_batch
    if loaded.fixed_batch and input_shape and loaded.input_shape and input_shape[0] != loaded.input_shape[0]:
        raise UsageError(
            f"{spec}: the program fixes its batch at {loaded.input_shape[0]};"
            f" --input-shape asks for batch {input_shape[0]}"
        )
    # the user's weights file as given; a builtin's own shipped weights are named by the spec
    # alone, so reports hold no install path
    info.weights = str(given) if given is not None else None
    torch.manual_seed(0)
    info.output_names, outputs = probe(model, torch.randn(*shape))
    info.output_shapes = [list(o.shape) for o in outputs]
    return model, info


def _declared_shape(model) -> tuple[int, ...] | None:
    declared = getattr(model, "input_shape", None)
    return tuple(declared) if declared else None


def build(spec: str, trust: bool = False) -> Loaded:
    """Build or read the model named by ``spec`` (see the module docstring)."""
    if spec.startswith("builtin:"):
        builtin = get_builtin(spec.split(":", 1)[1])
        return Loaded(builtin.factory(), "builtin", builtin.input_shape)
    if Path(spec).exists() and not FACTORY_RE.match(spec):
        with cwd_on_path():  # a pickled module's classes import as `python -m` would find them
            return load_model_file(Path(spec), trust)
    check_model_spec(spec)
    model = call_factory(spec)
    if not isinstance(model, nn.Module):
        raise InputError(f"{spec}: factory returned {type(model).__name__}, not a torch.nn.Module")
    return Loaded(model, "factory", _declared_shape(model))


def load_weights(model, path: Path) -> list[str]:
    """Load a state_dict strictly; a mismatch lists missing, unexpected and mis-shaped keys.

    Wrapper prefixes (``module.``, ``_orig_mod.``) are stripped where the model does not
    expect them. A file saved from the plain model (e.g. secateurs' own pruned.safetensors)
    also loads into a model still carrying weight_norm or prune state: the model is made
    plain first.
    """
    state, notes = read_state_dict(path)
    expected = model.state_dict()
    state, stripped = strip_prefixes(state, expected, path)
    notes += stripped
    if set(state) != set(expected):
        plain_notes = make_plain(model)
        if plain_notes and set(state) == set(model.state_dict()):
            notes += plain_notes
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
    halves = sorted({str(v.dtype).removeprefix("torch.") for v in state.values()} & set(HALF_DTYPES))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:  # a module's own load hook refused it
        raise InputError(f"{path}: the model refused these weights ({first_line(e)})") from e
    if halves:
        notes.append(f"{path.name}: holds {'/'.join(halves)} tensors, loaded into the model's parameters")
    return notes


# Key prefixes that wrappers add: DataParallel/DDP ("module.") and torch.compile ("_orig_mod.").
WRAPPER_PREFIXES = {"module.": "the DataParallel/DDP prefix", "_orig_mod.": "torch.compile's prefix"}


def strip_prefixes(state: dict, expected: dict, path: Path) -> tuple[dict, list[str]]:
    """Strip wrapper prefixes, in any combination, that every key has and the model lacks.

    Then, if the keys still differ, one leading name shared by every key (a training
    wrapper's attribute, e.g. Lightning's ``model.``) is stripped, but only when that makes
    the keys exactly the model's.
    """
    notes = []
    if not all(isinstance(k, str) for k in state):
        return state, notes
    compiled = "_orig_mod."
    if any(f".{compiled}" in k for k in state) and not any(compiled in k for k in expected):
        state = {k.replace(f".{compiled}", "."): v for k, v in state.items()}
        notes.append(
            f"{path.name}: stripped torch.compile's '_orig_mod.' from inside the keys (a compiled submodule)"
        )
    while True:
        for prefix, what in WRAPPER_PREFIXES.items():
            if all(k.startswith(prefix) for k in state) and not any(k.startswith(prefix) for k in expected):
                state = {k[len(prefix) :]: v for k, v in state.items()}
                notes.append(f"{path.name}: stripped {what} {prefix!r}")
                break
        else:
            break
    heads = {k.split(".", 1)[0] for k in state}
    if set(state) != set(expected) and len(heads) == 1 and all("." in k for k in state):
        prefix = heads.pop() + "."
        stripped = {k[len(prefix) :]: v for k, v in state.items()}
        if set(stripped) == set(expected):
            state = stripped
            notes.append(f"{path.name}: stripped the prefix {prefix!r} that every key shares")
    return state, notes


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
    return named_outputs(out)


def _short(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... (+{len(keys) - limit} more)" if len(keys) > limit else "")
