"""The .spz index: which files the container restores and where each tensor's streams are.

Serialized with LEB128 varints (see docs/FORMAT.md, "Index"). ``parse`` checks every
count and length against what the surrounding bytes can hold, so a hostile index fails
with ValueError instead of looping or allocating.

A stream reference is codec and stored length in one varint, its offset as the signed
distance from the end of the stream listed before it (streams are written back to back,
so that is nearly always 0), and its decoded length only when it is not raw: a small
tensor costs a few bytes of index per stream instead of about seven.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from secateurs.spz.wire import read_varint, unzigzag, write_varint, zigzag


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


CODEC_BITS = 2  # low bits of a stream reference's first varint


def serialize(files: list[FileEntry]) -> bytes:
    out = bytearray()
    end = [16]  # where the previous stream ended (the data region starts after the header)
    write_varint(out, len(files))
    for f in files:
        _str(out, f.path)
        write_varint(out, f.size)
        out += struct.pack("<I", f.crc32)
        _stream(out, f.skeleton, end)
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
                _stream(out, s, end)
    return bytes(out)


def _str(out: bytearray, text: str) -> None:
    raw = text.encode("utf-8")
    write_varint(out, len(raw))
    out += raw


def _stream(out: bytearray, s: StreamRef, end: list[int]) -> None:
    if not 0 <= s.codec < 1 << CODEC_BITS:
        raise ValueError(f"stream codec {s.codec} does not fit the index")
    write_varint(out, s.stored << CODEC_BITS | s.codec)
    write_varint(out, zigzag(s.offset - end[0]))
    if s.codec != 0:
        write_varint(out, s.decoded)
    end[0] = s.offset + s.stored


class _Reader:
    def __init__(self, buf: bytes):
        self.buf, self.pos, self.end = buf, 0, len(buf)
        self.stream_end = 16

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
        head = self.varint()
        codec, stored = head & ((1 << CODEC_BITS) - 1), head >> CODEC_BITS
        offset = self.stream_end + unzigzag(self.varint())
        if offset < 0:
            raise ValueError(f"a stream starts at byte {offset}")
        decoded = self.varint() if codec else stored
        self.stream_end = offset + stored
        return StreamRef(codec, offset, stored, decoded)


def parse(buf: bytes) -> list[FileEntry]:
    r = _Reader(buf)
    files = []
    for _ in range(r.count(9)):
        path, size, crc = r.text(), r.varint(), struct.unpack("<I", r.take(4))[0]
        entry = FileEntry(path, size, crc, r.stream())
        for _ in range(r.count(14)):
            name, data_type = r.text(), r.varint()
            dims = tuple(unzigzag(r.varint()) for _ in range(r.count(1)))
            offset, length, esize, encoding, nnz = (r.varint() for _ in range(5))
            crc = struct.unpack("<I", r.take(4))[0]
            params = tuple(r.varint() for _ in range(r.count(1)))
            refs = [r.stream() for _ in range(r.count(2))]
            entry.tensors.append(
                TensorRecord(name, data_type, dims, offset, length, esize, encoding, nnz, crc, params, refs)
            )
        files.append(entry)
    if r.pos != r.end:
        raise ValueError(f"{r.end - r.pos} unexpected bytes after the index")
    return files
