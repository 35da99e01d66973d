"""Restore the exact ONNX file (and external data files) from a .spz container.

The index is fully validated before anything is decoded; tensors are decoded ahead in a
worker thread while the main thread splices them into the skeleton, checksums and
writes. Any mismatch (crc32 of a tensor or of a whole file) removes every output.
"""

from __future__ import annotations

import os
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import zstandard

from secateurs.spz import codecs
from secateurs.spz.container import DEFAULT_MAX_OUTPUT, Reader
from secateurs.spz.errors import (
    CorruptContainer,
    InvalidArgument,
    OutputExists,
    UnreadableInput,
    UnsupportedVersion,
    WriteFailed,
)
from secateurs.spz.index import FileEntry, TensorRecord
from secateurs.spz.output import atomic_files
from secateurs.spz.plan import safe_relative

AHEAD = 3
CHUNK = 1 << 22  # skeleton bytes copied per read


def open_container(spz_path: Path, max_output: int = DEFAULT_MAX_OUTPUT) -> Reader:
    """Open and validate ``spz_path``; every problem is a BadInput naming the file."""
    try:
        return Reader(Path(spz_path), max_output)
    except FileNotFoundError:
        raise UnreadableInput(f"{spz_path}: file not found") from None
    except IsADirectoryError:
        raise UnreadableInput(f"{spz_path}: is a directory") from None
    except UnsupportedVersion as e:
        raise UnsupportedVersion(f"{spz_path}: {e}") from None
    except (ValueError, zstandard.ZstdError) as e:
        raise CorruptContainer(f"{spz_path}: {e}") from None
    except OSError as e:
        raise UnreadableInput(f"{spz_path}: cannot read ({e.strerror or e})") from None


def unpack(
    spz_path: Path,
    out_path: Path,
    *,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT,
    overwrite: bool = True,
) -> Path:
    """Write the model to ``out_path`` and its external data files beside it; return ``out_path``.

    Every tensor's and every file's crc32 is checked; on a mismatch nothing is written.
    ``max_output_bytes`` caps the total size the container may declare: decompression
    bombs are refused before any memory is allocated for them.
    """
    spz_path, out_path = Path(spz_path), Path(out_path)
    if out_path.exists() and out_path.resolve() == spz_path.resolve():
        raise InvalidArgument(f"{out_path}: the output would overwrite the .spz being unpacked")
    with open_container(spz_path, max_output_bytes) as reader, atomic_files() as out:
        if not overwrite:  # every target is checked before the first is written
            there = [t for e in reader.files if os.path.lexists(t := _target(spz_path, out_path, e.path))]
            if there:
                verb = "exists" if len(there) == 1 else "exist"
                raise OutputExists(f"{', '.join(map(str, there))}: already {verb}; not overwritten")
        # one decoder thread: a second one only contends for the same core (2 vCPUs)
        with ThreadPoolExecutor(1, thread_name_prefix="spz-unpack") as pool:
            for entry in reader.files:
                target = _target(spz_path, out_path, entry.path)
                with out.open(target) as f:
                    try:
                        _restore(reader, entry, f, pool)
                    except (ValueError, zstandard.ZstdError) as e:
                        what = f"external data file {entry.path!r}" if entry.path else "model"
                        raise CorruptContainer(f"{spz_path}: {what}: {e}") from None
                    except OSError as e:
                        raise WriteFailed(f"{target}: write failed ({e.strerror or e})") from e
        out.commit()
    return out_path


def _target(spz_path: Path, out_path: Path, rel: str) -> Path:
    """Where a file of the container goes: the model at ``out_path``, data files beside it."""
    if not rel:
        return out_path
    target = out_path.parent / safe_relative(rel)
    root = os.path.realpath(out_path.parent)
    if target == out_path or os.path.realpath(target) == os.path.realpath(out_path):
        raise CorruptContainer(f"{spz_path}: external data file {rel!r} would overwrite the model")
    if os.path.commonpath([root, os.path.realpath(target)]) != root:
        raise CorruptContainer(f"{spz_path}: external data file {rel!r} resolves outside {out_path.parent}")
    return target


def _restore(reader: Reader, entry: FileEntry, f, pool) -> None:
    crc = 0
    skeleton = reader.reader(entry.skeleton)

    def emit(data) -> None:
        nonlocal crc
        crc = zlib.crc32(data, crc)
        f.write(data)

    position = 0
    pending: deque = deque()
    tensors = iter(entry.tensors)
    while True:
        while len(pending) < AHEAD:
            t = next(tensors, None)
            if t is None:
                break
            pending.append((t, pool.submit(decode_tensor, reader, t)))
        if not pending:
            break
        t, future = pending.popleft()
        _copy(skeleton, t.skeleton_offset - position, emit)
        position = t.skeleton_offset
        emit(future.result())
    _copy(skeleton, entry.skeleton.decoded - position, emit)
    if skeleton.read(1):
        raise ValueError("skeleton stream is longer than declared")
    if crc != entry.crc32:
        raise ValueError("crc32 of the restored file does not match (corrupt container)")


def _copy(skeleton, count: int, emit) -> None:
    while count > 0:
        data = skeleton.read(min(count, CHUNK))
        if not data:
            raise ValueError("skeleton stream ends early")
        count -= len(data)
        emit(data)


def decode_tensor(reader: Reader, t: TensorRecord):
    """One tensor's payload bytes, checked against its declared length and crc32."""
    try:
        data = [reader.stream(ref) for ref in t.streams]
        out = codecs.by_id(t.encoding).decode(data, t.length // t.esize, t.esize, t.nnz, t.params)
    except ValueError as e:
        raise ValueError(f"tensor {t.name!r}: {e}") from None
    if out.nbytes != t.length or zlib.crc32(out) != t.crc32:
        raise ValueError(f"tensor {t.name!r}: decoded bytes fail their crc32 check")
    return out
