"""Read a state_dict from disk, detecting the format by content, never by extension.

Only data formats are accepted: safetensors, and torch zip/legacy checkpoints loaded
with ``weights_only=True``. Whole-model files (TorchScript, torch.export ``.pt2``,
pickled ``nn.Module``) can run code and are refused with a clear message.
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

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


def read_state_dict(path: Path) -> dict:
    """Load tensors from ``path`` or raise InputError naming the file and the cause."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: weights file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: weights file is empty")
    kind = sniff(path)
    if kind == "safetensors":
        return _read_safetensors(path)
    if kind in ("torch-zip", "pickle"):
        return _read_torch(path)
    if kind in ("torchscript", "pt2"):
        raise InputError(
            f"{path}: is a {'TorchScript archive' if kind == 'torchscript' else 'torch.export .pt2 program'},"
            " not a state_dict; loading whole-model files is not supported yet"
            " (pass an architecture and a state_dict with --weights)"
        )
    if kind == "onnx":
        raise InputError(f"{path}: looks like an ONNX model, not a state_dict of weights")
    raise InputError(f"{path}: not a safetensors file or a torch checkpoint")


def _read_safetensors(path: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: unreadable safetensors file ({_first_line(e)})") from e


def _read_torch(path: Path) -> dict:
    import pickle

    import torch

    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise InputError(
            f"{path}: refused by torch.load(weights_only=True): it is not a plain state_dict"
            f" ({_first_line(e)})"
        ) from e
    except (RuntimeError, OSError, EOFError, ValueError, zipfile.BadZipFile) as e:
        raise InputError(f"{path}: unreadable torch checkpoint ({_first_line(e)})") from e
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError(f"{path}: expected a state_dict (a dict of tensors), got {type(obj).__name__}")
    return obj


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else type(e).__name__
