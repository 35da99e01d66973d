"""The .spz index: which files the container restores and where each tensor's streams are.

Serialized with LEB128 varints (see docs/FORMAT.md, "Index"). ``parse`` checks every
count and length against what the surrounding bytes can hold, so a hostile index fails
with ValueError instead of looping or allocating.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from secateurs.spz.varint import read_varint, unzigzag, write_varint, zigzag


@dataclass
class StreamRef:
    codec: int  # streams.RAW or streams.ZSTD
    offset: int  # absolute byte offset in the .spz
    stored: int
    decoded: int


@dataclass
class TensorRecord:
    name: str
    data_type: int
    dims: tuple[int, ...]
    skeleton_offset: int  # where the decoded payload is re-inserted into the skeleton
    length: int  # decoded payload bytes
    esize: int  # bytes per element the encoding works on
    encoding: int
    nnz: int
    crc32: int  # zlib.crc32 of the decoded payload
    params: tuple[int, ...] = ()
    streams: list[StreamRef] = field(default_factory=list)


@dataclass
class FileEntry:
    path: str  # "" for the model itself, else the external data file relative to it
    size: int
    crc32: int  # zlib.crc32 of the whole original file
    skeleton: StreamRef
    tensors: list[TensorRecord] = field(default_factory=list)


def serialize(files: list[FileEntry]) -> bytes:
    out = bytearray()
    write_varint(out, len(files))
    for f in files:
        _str(out, f.path)
        write_varint(out, f.size)
        out += struct.pack("<I", f.crc32)
        _stream(out, f.skeleton)
        write_varint(out, len(f.tensors))
        for t in f.tensors:
            _str(out, t.name)
            for v in (t.data_type, len(t.dims)):
                write_varint(out, v)
            for d in t.dims:
                write_varint(out, zigzag(d))
            for v in (t.skeleton_offset, t.length, t.esize, t.encoding, t.nnz):
                write_varint(out, v)
            out += struct.pack("<I", t.crc32)
            write_varint(out, len(t.params))
            for p in t.params:
                write_varint(out, p)
            write_varint(out, len(t.streams))
            for s in t.streams:
                _stream(out, s)
    return bytes(out)


def _str(out: bytearray, text: str) -> None:
    raw = text.encode("utf-8")
    write_varint(out, len(raw))
    out += raw


def _stream(out: bytearray, s: StreamRef) -> None:
    for v in (s.codec, s.offset, s.stored, s.decoded):
        write_varint(out, v)


class _Reader:
    def __init__(self, buf: bytes):
        self.buf, self.pos, self.end = buf, 0, len(buf)

    def varint(self) -> int:
        value, self.pos = read_varint(self.buf, self.pos, self.end)
        return value

    def count(self, min_item_bytes: int) -> int:
        """A repeat count that the remaining bytes could actually hold."""
        n = self.varint()
        if n * min_item_bytes > self.end - self.pos:
            raise ValueError(f"index declares {n} items but only {self.end - self.pos} bytes remain")
        return n

    def take(self, n: int) -> bytes:
        if n > self.end - self.pos:
            raise ValueError("index is truncated")
        self.pos += n
        return self.buf[self.pos - n : self.pos]

    def text(self) -> str:
        raw = self.take(self.varint())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("index holds a name that is not UTF-8") from None

    def stream(self) -> StreamRef:
        return StreamRef(self.varint(), self.varint(), self.varint(), self.varint())


def parse(buf: bytes) -> list[FileEntry]:
    r = _Reader(buf)
    files = []
    for _ in range(r.count(10)):
        path, size, crc = r.text(), r.varint(), struct.unpack("<I", r.take(4))[0]
        entry = FileEntry(path, size, crc, r.stream())
        for _ in range(r.count(14)):
            name, data_type = r.text(), r.varint()
            dims = tuple(unzigzag(r.varint()) for _ in range(r.count(1)))
            offset, length, esize, encoding, nnz = (r.varint() for _ in range(5))
            crc = struct.unpack("<I", r.take(4))[0]
            params = tuple(r.varint() for _ in range(r.count(1)))
            refs = [r.stream() for _ in range(r.count(4))]
            entry.tensors.append(
                TensorRecord(name, data_type, dims, offset, length, esize, encoding, nnz, crc, params, refs)
            )
        files.append(entry)
    if r.pos != r.end:
        raise ValueError(f"{r.end - r.pos} unexpected bytes after the index")
    return files
