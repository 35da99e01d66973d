"""Whole-model files: torch.export programs (.pt2), TorchScript archives, pickled modules.

The format is detected by content. A ``.pt2`` holds a graph and tensors and loads
without running user code. TorchScript archives and pickled ``nn.Module`` files can run
arbitrary code when loaded, so they are refused unless the user passes
``--trust-model-code``; the refusal names the unsafe globals torch finds in the file.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from secateurs.errors import InputError
from secateurs.model.program import input_signature, to_inference
from secateurs.model.weights_file import first_line, sniff, unsafe_globals

TRUST_FLAG = "--trust-model-code"
STATE_DICT_HINT = (
    "pass the architecture as MODEL (builtin:NAME or package.module:factory) and this file with --weights"
)


@dataclass
class Loaded:
    """A model as built or read, before weights, precision and plain-making are applied."""

    module: Any  # torch.nn.Module (or a GraphModule / ScriptModule)
    source: str  # "builtin", "factory", "exported-program", "torchscript", "pickled-module"
    input_shape: tuple[int, ...] | None = None  # declared by the model or its file
    notes: list[str] = field(default_factory=list)
    fixed_batch: bool = False  # a .pt2 program exported without a dynamic batch axis


def load_model_file(path: Path, trust: bool) -> Loaded:
    """Read a whole-model file, detected by content (see the module docstring)."""
    kind = sniff(path) if path.is_file() else "directory"
    if kind == "pt2":
        return _load_pt2(path)
    if kind == "torchscript":
        _require_trust(path, "a TorchScript archive", trust, None)
        return _load_torchscript(path)
    if kind in ("torch-zip", "pickle"):
        return _load_pickle(path, trust)
    if kind == "safetensors":
        raise InputError(f"{path}: is a safetensors state_dict, not a model; {STATE_DICT_HINT}")
    if kind == "onnx":
        raise InputError(f"{path}: is already an ONNX model; `secateurs pack` compresses ONNX files")
    if kind == "directory":
        raise InputError(f"{path}: is a directory, not a model file")
    raise InputError(f"{path}: not a model file secateurs can read (.pt2, TorchScript, pickled nn.Module)")


def _require_trust(path: Path, what: str, trust: bool, unsafe: list[str] | None) -> None:
    if trust:
        return
    found = f"; unsafe globals found: {', '.join(unsafe[:6])}" if unsafe else ""
    raise InputError(
        f"{path}: is {what}, which runs code when loaded; pass {TRUST_FLAG} if you trust it{found}"
    )


def _load_pt2(path: Path):
    try:
        program = torch.export.load(str(path))
    except Exception as e:  # torch raises many types for a damaged archive
        raise InputError(
            f"{path}: unreadable torch.export program ({type(e).__name__}: {first_line(e)})"
        ) from e
    shape, fixed = input_signature(program)
    module = program.module()
    notes = [f"loaded torch.export program {path.name}"] + to_inference(module, path)
    if fixed and shape:
        notes.append(
            f"{path.name}: the program fixes its batch at {shape[0]} (exported without dynamic_shapes);"
            f" model.onnx takes batch {shape[0]} only, and is validated at it"
        )
    return Loaded(module, "exported-program", shape, notes, fixed_batch=fixed)


def _load_torchscript(path: Path):
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except Exception as e:
        raise InputError(
            f"{path}: unreadable TorchScript archive ({type(e).__name__}: {first_line(e)})"
        ) from e
    shape = getattr(module, "input_shape", None)
    note = f"TRUSTED LOADING: TorchScript archive {path.name} loaded with {TRUST_FLAG}"
    return Loaded(module, "torchscript", tuple(shape) if shape else None, [note])


def _load_pickle(path: Path, trust: bool):
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        obj = None  # needs globals: a pickled module (or worse)
    except (RuntimeError, OSError, EOFError, ValueError, zipfile.BadZipFile) as e:
        raise InputError(f"{path}: unreadable torch checkpoint ({first_line(e)})") from e
    if obj is not None:
        raise InputError(f"{path}: holds only tensors (a state_dict), not a model; {STATE_DICT_HINT}")
    _require_trust(path, "a pickled Python object", trust, unsafe_globals(path))
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as e:  # arbitrary code ran; anything can come out
        raise InputError(f"{path}: loading failed ({type(e).__name__}: {first_line(e)})") from e
    notes = [
        f"TRUSTED LOADING: pickled module {path.name} loaded with {TRUST_FLAG} (torch.load weights_only=False)"
    ]
    if isinstance(obj, dict):
        obj, notes = _checkpoint_module(obj, path, notes)
    if not isinstance(obj, nn.Module):
        raise InputError(f"{path}: unpickled a {type(obj).__name__}, not a torch.nn.Module")
    shape = getattr(obj, "input_shape", None)
    return Loaded(obj, "pickled-module", tuple(shape) if shape else None, notes)


# Training checkpoints hold the module under one of these keys. "ema" first: YOLOv5 and
# ultralytics keep the exponential moving average of the weights there, and their own
# export and validation use it when present (YOLOv5's attempt_load: ckpt.get("ema") or ckpt["model"]).
CHECKPOINT_MODULE_KEYS = ("ema", "model", "module")


def _checkpoint_module(obj: dict, path: Path, notes: list[str]):
    for key in CHECKPOINT_MODULE_KEYS:
        if isinstance(obj.get(key), nn.Module):
            others = [k for k in CHECKPOINT_MODULE_KEYS if k != key and isinstance(obj.get(k), nn.Module)]
            also = f" (preferred over {', '.join(repr(k) for k in others)})" if others else ""
            return obj[key], notes + [f"{path.name}: using the module under checkpoint key {key!r}{also}"]
    return obj, notes
