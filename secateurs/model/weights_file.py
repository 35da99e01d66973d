"""Read a state_dict from disk, detecting the format by content, never by extension.

Only data formats are accepted: safetensors, and torch zip/legacy checkpoints loaded
with ``weights_only=True``. Whole-model files (TorchScript, torch.export ``.pt2``,
pickled ``nn.Module``) can run code and are refused with a clear message.
"""

from __future__ import annotations

import json
import pickle
import struct
import zipfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from secateurs.errors import InputError

ZIP_MAGIC = b"PK\x03\x04"


def sniff(path: Path) -> str:
    """Return 'safetensors', 'torch-zip', 'torchscript', 'pt2', 'pickle', 'onnx' or 'unknown'."""
    with open(path, "rb") as f:
        head = f.read(16)
    if len(head) >= 9 and head[8:9] == b"{":
        (header_len,) = struct.unpack("<Q", head[:8])
        if 0 < header_len < path.stat().st_size:
            return "safetensors"
    if head.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError, EOFError):
            return "unknown"
        if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
            return "torchscript"
        if any(n.endswith("archive_format") or "/serialized_exported_program" in n for n in names):
            return "pt2"
        return "torch-zip"
    if head[:1] == b"\x80":
        return "pickle"
    if head[:1] == b"\x08":  # protobuf field 1 varint: ModelProto.ir_version
        return "onnx"
    return "unknown"


def read_state_dict(path: Path) -> tuple[dict, list[str]]:
    """Load tensors from ``path`` (unwrapped, see ``unwrap``) or raise InputError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: weights file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: weights file is empty")
    kind = sniff(path)
    if kind == "safetensors":
        return unwrap(_read_safetensors(path), path)
    if kind in ("torch-zip", "pickle"):
        return unwrap(_read_torch(path), path)
    if kind in ("torchscript", "pt2"):
        what = "a TorchScript archive" if kind == "torchscript" else "a torch.export .pt2 program"
        raise InputError(f"{path}: is {what}, not a state_dict; pass it as MODEL instead of --weights")
    if kind == "onnx":
        raise InputError(f"{path}: looks like an ONNX model, not a state_dict of weights")
    raise InputError(f"{path}: not a safetensors file or a torch checkpoint")


# The first present that holds a dict of tensors is used. The EMA weights come first, as
# for pickled checkpoints (model_file.CHECKPOINT_MODULE_KEYS): they are what YOLOv5,
# ultralytics and timm validate and export when a checkpoint carries both.
WRAPPER_KEYS = ("ema", "state_dict_ema", "model_ema", "state_dict", "model_state_dict", "model")


def unwrap(obj, path: Path) -> tuple[dict, list[str]]:
    """Undo the common checkpoint wrappers, saying which were found.

    ``{"ema": sd}``, ``{"state_dict_ema": sd}``, ``{"model_ema": sd}``, ``{"state_dict": sd}``,
    ``{"model_state_dict": sd}`` and ``{"model": sd}`` (the first present whose value is a
    dict of tensors; other keys such as ``epoch`` are ignored).
    Key prefixes added by wrappers are stripped later, against the model's own keys
    (``load.strip_prefixes``).
    """
    notes = []
    if isinstance(obj, dict):
        for key in WRAPPER_KEYS:
            inner = obj.get(key)
            if isinstance(inner, dict) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                obj = inner
                notes.append(f"{path.name}: using the state_dict under key {key!r}")
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError(
            f"{path}: expected a state_dict (a dict of tensors, optionally under"
            f" {'/'.join(WRAPPER_KEYS)}), got {type(obj).__name__}"
        )
    return obj, notes


def _read_safetensors(path: Path) -> dict:
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: unreadable safetensors file ({first_line(e)})") from e


def _read_torch(path: Path) -> dict:
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = unsafe_globals(path)
        named = f"; unsafe globals: {', '.join(found[:6])}" if found else f" ({first_line(e)})"
        raise InputError(
            f"{path}: refused by torch.load(weights_only=True): it is not a plain state_dict{named}"
        ) from e
    except (RuntimeError, OSError, EOFError, ValueError, zipfile.BadZipFile) as e:
        raise InputError(f"{path}: unreadable torch checkpoint ({first_line(e)})") from e
    return obj


def first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else type(e).__name__


def unsafe_globals(path: Path) -> list[str]:
    """What a weights_only load would refuse, where torch can tell without running it."""
    try:
        return list(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
    except Exception:  # legacy (non-zip) pickles cannot be scanned
        return []
