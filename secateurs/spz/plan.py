"""Map a model and its external data files, and list the tensor payloads in each.

Shared by pack and inspect. Files are memory-mapped, so a model is never copied into
memory; payload ranges that overlap an earlier one are dropped (their bytes simply
stay in the skeleton), and ranges past the end of their file are an InputError.
"""

from __future__ import annotations

import mmap
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from secateurs.errors import InputError
from secateurs.spz import paths
from secateurs.spz.dtypes import element_size
from secateurs.spz.wire import TensorRef, WireError, scan_model


@dataclass
class Payload:
    ref: TensorRef
    offset: int
    length: int
    esize: int


@dataclass
class FilePlan:
    path: str  # "" for the model, else the normalized external data location
    source: Path
    buf: object  # mmap or b"" for an empty file
    payloads: list[Payload] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.buf)


def map_file(path: Path, stack: ExitStack, what: str):
    """Memory-map ``path`` read-only (b"" when empty); InputError if it cannot be read."""
    try:
        with open(path, "rb") as f:
            if f.seek(0, 2) == 0:
                return b""
            mapping = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: {what} is a directory") from None
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read {what} ({getattr(e, 'strerror', None) or e})") from None
    stack.callback(_close, mapping)
    return mapping


def _close(mapping) -> None:
    try:
        mapping.close()
    except BufferError:  # an array still views it; it is unmapped when that goes
        pass


def plan_model(onnx_path: Path, stack: ExitStack) -> list[FilePlan]:
    """The model file first, then each external data file it references, with payloads."""
    buf = map_file(onnx_path, stack, "model")
    if len(buf) == 0:
        raise InputError(f"{onnx_path}: empty file, not an ONNX model")
    try:
        refs = scan_model(buf)
    except (WireError, ValueError) as e:
        raise InputError(f"{onnx_path}: not an ONNX model ({e})") from None
    model = FilePlan("", onnx_path, buf)
    plans = {"": model}
    for ref in refs:
        if ref.location is None:
            _add(model, ref, ref.length, onnx_path)
            continue
        try:
            rel = paths.safe_relative(ref.location).as_posix()
            source = paths.resolve_inside(onnx_path.parent, ref.location)
        except ValueError as e:
            raise InputError(f"{onnx_path}: tensor {ref.name!r}: {e}") from None
        if rel not in plans:
            plans[rel] = FilePlan(rel, source, map_file(source, stack, "external data file"))
        plan = plans[rel]
        length = plan.size - ref.offset if ref.length < 0 else ref.length
        _add(plan, ref, length, onnx_path)
    for plan in plans.values():
        plan.payloads = _non_overlapping(plan.payloads)
    return list(plans.values())


def _add(plan: FilePlan, ref: TensorRef, length: int, onnx_path: Path) -> None:
    if length < 0 or ref.offset + length > plan.size:
        raise InputError(
            f"{onnx_path}: tensor {ref.name!r} needs bytes {ref.offset}..{ref.offset + length} "
            f"of {plan.source.name}, which has {plan.size}"
        )
    if length:
        plan.payloads.append(Payload(ref, ref.offset, length, element_size(ref.data_type, length, ref.field)))


def _non_overlapping(payloads: list[Payload]) -> list[Payload]:
    kept, end = [], 0
    for p in sorted(payloads, key=lambda p: p.offset):
        if p.offset >= end:
            kept.append(p)
            end = p.offset + p.length
    return kept
