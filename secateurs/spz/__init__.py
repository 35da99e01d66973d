"""The .spz container: an ONNX file whose tensors are stored in their smallest encoding.

``unpack`` restores the original bytes exactly (sha256-equal). The layout is specified
in docs/FORMAT.md. Submodules import numpy and zstandard, so they load on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from secateurs.spz.inspection import TensorInfo
    from secateurs.spz.packer import PackStats

__all__ = ["pack", "unpack", "inspect", "PackStats", "TensorInfo"]


def pack(onnx_path: Path, out_path: Path, *, level: int = 3) -> PackStats:
    """Pack ``onnx_path`` and its external data files into ``out_path`` (see packer.pack)."""
    from secateurs.spz.packer import pack as _pack

    return _pack(onnx_path, out_path, level=level)


def unpack(spz_path: Path, out_path: Path, *, max_output_bytes: int | None = None) -> Path:
    """Restore the exact ONNX file(s) from ``spz_path`` (see unpacker.unpack)."""
    from secateurs.spz.container import DEFAULT_MAX_OUTPUT
    from secateurs.spz.unpacker import unpack as _unpack

    limit = DEFAULT_MAX_OUTPUT if max_output_bytes is None else max_output_bytes
    return _unpack(spz_path, out_path, max_output_bytes=limit)


def inspect(path: Path, *, level: int = 3) -> list[TensorInfo]:
    """Per-tensor encodings and sizes of an .onnx or .spz file (see inspection.inspect)."""
    from secateurs.spz.inspection import inspect as _inspect

    return _inspect(path, level=level)


def __getattr__(name: str):
    if name == "PackStats":
        from secateurs.spz.packer import PackStats

        return PackStats
    if name == "TensorInfo":
        from secateurs.spz.inspection import TensorInfo

        return TensorInfo
    raise AttributeError(name)
