"""Per-tensor report for an .onnx (what each encoding would take) or a .spz (what it took).

For a .spz the skeleton is decompressed into a zero-filled buffer the size of the
original file (untouched pages are never allocated), so the same wire scan finds every
tensor; cut-out tensors are described by their index records, inline ones by their bytes.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import zstandard

from secateurs.spz import codecs
from secateurs.spz.choose import Analysis, all_sizes, choose
from secateurs.spz.container import MAGIC
from secateurs.spz.errors import CorruptContainer, UnreadableInput
from secateurs.spz.plan import dtype_name, element_size, plan_model, safe_relative
from secateurs.spz.unpacker import open_container
from secateurs.spz.wire import WireError, scan_model


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    file: str  # "" for the model itself, else its external data file
    nbytes: int
    sparsity: float  # fraction of elements whose bytes are all zero
    encoding: str  # chosen (.onnx: what pack would pick) or used (.spz); "inline" = left in the skeleton
    sizes: dict[str, int] = field(default_factory=dict)  # bytes per encoding ("inline": zstd of raw)


def inspect(path: Path, *, level: int = 3) -> list[TensorInfo]:
    """Describe every tensor payload of an .onnx or .spz file, in file order."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(len(MAGIC))
    except OSError as e:
        raise UnreadableInput(f"{path}: cannot read ({e.strerror or e})") from None
    return _inspect_spz(path) if head == MAGIC else _inspect_onnx(path, level)


def _inspect_onnx(path: Path, level: int) -> list[TensorInfo]:
    infos = []
    with ExitStack() as stack:
        for plan in plan_model(path, stack):
            for p in plan.payloads:
                an = Analysis(memoryview(plan.buf)[p.offset : p.offset + p.length], p.esize, level)
                chosen = choose(an, p.ref.name)
                sizes = {"inline": an.raw_size, **all_sizes(an)}
                encoding = chosen.encoding if chosen is not None else "inline"
                infos.append(_info(p.ref, plan.path, p.length, an.sparsity, encoding, sizes))
                del an
    return infos


def _inspect_spz(path: Path) -> list[TensorInfo]:
    infos = []
    with open_container(path) as reader:
        buffers, records = {}, {}
        try:
            for entry in reader.files:
                buf = np.zeros(entry.size, dtype=np.uint8)
                skeleton = reader.reader(entry.skeleton)
                position = skeleton_pos = 0
                for t in entry.tensors:
                    position += _fill(skeleton, buf, position, t.skeleton_offset - skeleton_pos)
                    skeleton_pos = t.skeleton_offset
                    records[(entry.path, position)] = t
                    position += t.length
                _fill(skeleton, buf, position, entry.skeleton.decoded - skeleton_pos)
                buffers[entry.path] = buf
            refs = scan_model(memoryview(buffers[""]))
        except (ValueError, WireError, zstandard.ZstdError) as e:
            raise CorruptContainer(f"{path}: {e}") from None
    for ref in refs:
        try:
            where = "" if ref.location is None else safe_relative(ref.location).as_posix()
        except ValueError as e:
            raise CorruptContainer(f"{path}: tensor {ref.name!r}: {e}") from None
        record = records.get((where, ref.offset))
        if record is not None:
            n = record.length // record.esize
            name = codecs.by_id(record.encoding).name
            stored = sum(s.stored for s in record.streams)
            sparsity = 1 - record.nnz / n if n else 0.0
            infos.append(_info(ref, where, record.length, sparsity, name, {name: stored}))
            continue
        buf = buffers.get(where)
        if buf is None:
            raise CorruptContainer(
                f"{path}: tensor {ref.name!r} refers to {where!r}, which the container lacks"
            )
        length = buf.size - ref.offset if ref.length < 0 else ref.length
        if length <= 0 or ref.offset + length > buf.size:
            continue
        an = Analysis(
            buf[ref.offset : ref.offset + length], element_size(ref.data_type, length, ref.field), 3
        )
        infos.append(_info(ref, where, length, an.sparsity, "inline", {"inline": an.raw_size}))
    return infos


def _fill(skeleton, buf, position: int, count: int) -> int:
    """Read ``count`` skeleton bytes into ``buf`` at ``position``; return ``count``."""
    done = 0
    while done < count:
        data = skeleton.read(min(count - done, 1 << 22))
        if not data:
            raise ValueError("skeleton stream ends early")
        buf[position + done : position + done + len(data)] = np.frombuffer(data, dtype=np.uint8)
        done += len(data)
    return count


def _info(ref, where: str, nbytes: int, sparsity: float, encoding: str, sizes: dict) -> TensorInfo:
    return TensorInfo(ref.name, dtype_name(ref.data_type), ref.dims, where, nbytes, sparsity, encoding, sizes)
