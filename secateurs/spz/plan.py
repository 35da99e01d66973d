"""Map a model and its external data files, and list the tensor payloads in each.

Shared by pack and inspect. Files are memory-mapped, so a model is never copied into
memory; payload ranges that overlap an earlier one are dropped (their bytes simply
stay in the skeleton), and ranges past the end of their file are an InvalidModel.

External data locations come from the model (pack) or from the container (unpack);
both are untrusted. Absolute paths, drive letters and ``..`` components are refused
under both POSIX and Windows spelling, and on pack the resolved path (symlinks
followed) must still lie inside the folder.

Each payload gets the element size the codecs split on (to find all-zero elements and
to byte-shuffle). Sub-byte types (int4, float4 ...) and unknown codes are treated as
plain bytes, which is always exact, just less tight.
"""

from __future__ import annotations

import mmap
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from secateurs.spz.errors import InvalidModel, UnreadableInput
from secateurs.spz.wire import TensorRef, WireError, scan_model

# code: (name, bytes per element); the codes are TensorProto.DataType from onnx.proto.
DTYPES: dict[int, tuple[str, int]] = {
    1: ("float32", 4),
    2: ("uint8", 1),
    3: ("int8", 1),
    4: ("uint16", 2),
    5: ("int16", 2),
    6: ("int32", 4),
    7: ("int64", 8),
    8: ("string", 1),
    9: ("bool", 1),
    10: ("float16", 2),
    11: ("float64", 8),
    12: ("uint32", 4),
    13: ("uint64", 8),
    14: ("complex64", 8),
    15: ("complex128", 16),
    16: ("bfloat16", 2),
    17: ("float8e4m3fn", 1),
    18: ("float8e4m3fnuz", 1),
    19: ("float8e5m2", 1),
    20: ("float8e5m2fnuz", 1),
    21: ("uint4", 1),
    22: ("int4", 1),
    23: ("float4e2m1", 1),
    24: ("float8e8m0", 1),
    25: ("uint2", 1),
    26: ("int2", 1),
    27: ("float6e2m3", 1),
    28: ("float6e3m2", 1),
}

# Fixed-width repeated fields of TensorProto that hold packed values like raw_data does.
FIELD_ELEMENT_SIZE = {"float_data": 4, "double_data": 8}


def dtype_name(code: int) -> str:
    return DTYPES.get(code, (f"dtype{code}", 1))[0]


def element_size(code: int, length: int, tensor_field: str = "raw_data") -> int:
    """Bytes per element for a payload of ``length`` bytes; 1 when the type does not divide it."""
    size = FIELD_ELEMENT_SIZE.get(tensor_field) or DTYPES.get(code, ("", 1))[1]
    return size if length % size == 0 else 1


def safe_relative(location: str) -> PurePosixPath:
    """``location`` as a normalized relative POSIX path; ValueError if it could escape."""
    win = PureWindowsPath(location)
    posix = PurePosixPath(location)
    if not location or "\x00" in location:
        raise ValueError(f"external data location {location!r} is empty or holds a NUL byte")
    if posix.is_absolute() or win.is_absolute() or win.drive or win.root:
        raise ValueError(f"external data location {location!r} is an absolute path")
    if ".." in posix.parts or ".." in win.parts:
        raise ValueError(f"external data location {location!r} leaves the model's folder")
    parts = [p for p in posix.parts if p != "."]
    if not parts:
        raise ValueError(f"external data location {location!r} names no file")
    return PurePosixPath(*parts)


def resolve_inside(folder: Path, location: str) -> Path:
    """The file ``location`` names relative to ``folder``, checked to stay inside it."""
    rel = safe_relative(location)
    root = folder.resolve()
    target = (root / rel).resolve()
    if not target.is_relative_to(root) or target == root:
        raise ValueError(f"external data location {location!r} resolves outside the model's folder")
    return target


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
    """Memory-map ``path`` read-only (b"" when empty); UnreadableInput if it cannot be read."""
    try:
        with open(path, "rb") as f:
            if f.seek(0, 2) == 0:
                return b""
            mapping = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        raise UnreadableInput(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise UnreadableInput(f"{path}: {what} is a directory") from None
    except (OSError, ValueError) as e:
        raise UnreadableInput(f"{path}: cannot read {what} ({getattr(e, 'strerror', None) or e})") from None
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
        raise InvalidModel(f"{onnx_path}: empty file, not an ONNX model")
    try:
        refs = scan_model(buf)
    except (WireError, ValueError) as e:
        raise InvalidModel(f"{onnx_path}: not an ONNX model ({e})") from None
    model = FilePlan("", onnx_path, buf)
    plans = {"": model}
    for ref in refs:
        if ref.location is None:
            _add(model, ref, ref.length, onnx_path)
            continue
        try:
            rel = safe_relative(ref.location).as_posix()
            source = resolve_inside(onnx_path.parent, ref.location)
        except ValueError as e:
            raise InvalidModel(f"{onnx_path}: tensor {ref.name!r}: {e}") from None
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
        raise InvalidModel(
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
