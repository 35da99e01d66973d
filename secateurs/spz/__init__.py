"""The .spz container: an ONNX file whose tensors are stored in their smallest encoding.

``pack`` writes it, ``unpack`` restores the original bytes exactly (sha256-equal) and
``inspect`` describes each tensor; the layout is specified in docs/FORMAT.md. Every
failure they report is an ``SpzError`` (see errors.py) whose message names the file:

* ``BadInput``: ``UnreadableInput``, ``InvalidModel``, ``CorruptContainer``,
  ``UnsupportedVersion``;
* ``WriteFailed``: an output could not be written (nothing is left behind);
* ``InvalidArgument``: a bad level, or an output that would overwrite the input.

This face is the package's whole public surface; its modules import numpy and zstandard,
so they load on first use. Only output.py reaches outside the package (for the
project's atomic writer).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from secateurs.spz.errors import (
    BadInput,
    CorruptContainer,
    InvalidArgument,
    InvalidModel,
    OutputExists,
    SpzError,
    UnreadableInput,
    UnsupportedVersion,
    WriteFailed,
)

if TYPE_CHECKING:
    from secateurs.spz.inspection import TensorInfo
    from secateurs.spz.packer import PackStats

__all__ = [
    "pack",
    "unpack",
    "inspect",
    "PackStats",
    "TensorInfo",
    "SpzError",
    "BadInput",
    "UnreadableInput",
    "InvalidModel",
    "CorruptContainer",
    "UnsupportedVersion",
    "WriteFailed",
    "InvalidArgument",
    "OutputExists",
    "safe_relative",
]


def pack(onnx_path: Path, out_path: Path, *, level: int = 3, overwrite: bool = True) -> PackStats:
    """Pack ``onnx_path`` and its external data files into ``out_path`` at zstd ``level`` (1-22).

    Raises UnreadableInput or InvalidModel for an input that cannot be packed,
    WriteFailed, or InvalidArgument (OutputExists when ``out_path`` is there and not
    ``overwrite``); on any error nothing is written.
    """
    from secateurs.spz.packer import pack as _pack

    return _pack(onnx_path, out_path, level=level, overwrite=overwrite)


def unpack(
    spz_path: Path, out_path: Path, *, max_output_bytes: int | None = None, overwrite: bool = True
) -> Path:
    """Restore the exact ONNX file at ``out_path`` (external data files beside it); return it.

    ``max_output_bytes`` caps what the container may declare (default 64 GiB). Raises
    UnreadableInput, CorruptContainer, UnsupportedVersion, WriteFailed or
    InvalidArgument (OutputExists when a file it would write is there and not
    ``overwrite``); on any error nothing is written.
    """
    from secateurs.spz.container import DEFAULT_MAX_OUTPUT
    from secateurs.spz.unpacker import unpack as _unpack

    limit = DEFAULT_MAX_OUTPUT if max_output_bytes is None else max_output_bytes
    return _unpack(spz_path, out_path, max_output_bytes=limit, overwrite=overwrite)


def inspect(path: Path, *, level: int = 3) -> list[TensorInfo]:
    """Per-tensor encodings and sizes of an .onnx (what pack would pick) or a .spz (what it did).

    Raises UnreadableInput, InvalidModel, CorruptContainer or UnsupportedVersion.
    """
    from secateurs.spz.inspection import inspect as _inspect

    return _inspect(path, level=level)


def __getattr__(name: str):
    if name == "PackStats":
        from secateurs.spz.packer import PackStats

        return PackStats
    if name == "safe_relative":  # the relative-path rule for external data, shared with verify
        from secateurs.spz.plan import safe_relative

        return safe_relative
    if name == "TensorInfo":
        from secateurs.spz.inspection import TensorInfo

        return TensorInfo
    raise AttributeError(name)
