"""The .spz file: header, streams, index, footer (layout in docs/FORMAT.md).

The writer appends streams as they are encoded, so packing never holds more than a
tensor or two; the index goes last and the fixed-size footer points at it. The reader
validates the whole index (sizes, offsets, caps) before any stream is decoded.
"""

from __future__ import annotations

import io
import mmap
import struct
import zlib
from pathlib import Path

import zstandard

from secateurs.spz import codecs, streams
from secateurs.spz.errors import UnsupportedVersion
from secateurs.spz.index import FileEntry, StreamRef, parse, serialize
from secateurs.spz.plan import safe_relative

MAGIC = b"\x89SPZ\r\n\x1a\n"
FOOTER_MAGIC = b"SPZ\x1a"
VERSION = 2  # 2: magicless stream frames, compact stream references
HEADER = struct.Struct("<8sHHI")  # magic, version, flags, reserved
FOOTER = struct.Struct("<QQQI4s")  # index offset, stored, decoded, crc32 of stored, magic
MAX_INDEX_BYTES = 1 << 28
ELEMENT_SIZES = (1, 2, 4, 8, 16)
DEFAULT_MAX_OUTPUT = 1 << 36  # 64 GiB: more than any ONNX model plus its external data


class Writer:
    """Append streams to an open binary file; ``finish`` writes index and footer."""

    def __init__(self, f, level: int):
        self.f, self.level = f, level
        f.write(HEADER.pack(MAGIC, VERSION, 0, 0))
        self.pos = HEADER.size

    def stream(self, s: streams.Stream) -> StreamRef:
        ref = StreamRef(s.codec, self.pos, s.stored, s.decoded)
        self.f.write(s.data)
        self.pos += s.stored
        return ref

    def zstd_stream(self, pieces: list, total: int) -> StreamRef:
        """Compress ``pieces`` (buffers adding up to ``total`` bytes) as one streamed frame.

        If the frame came out no smaller than the input, it is overwritten with the raw
        bytes, so incompressible files grow by the container's framing only.
        """
        start = self.pos
        params = zstandard.ZstdCompressionParameters.from_level(
            self.level, write_content_size=True, format=zstandard.FORMAT_ZSTD1_MAGICLESS
        )
        cctx = zstandard.ZstdCompressor(compression_params=params)
        with cctx.stream_writer(self.f, size=total, closefd=False) as w:
            for piece in pieces:
                w.write(piece)
        self.pos = self.f.tell()
        if self.pos - start < total:
            return StreamRef(streams.ZSTD, start, self.pos - start, total)
        self.f.seek(start)
        for piece in pieces:
            self.f.write(piece)
        self.f.truncate()
        self.pos = self.f.tell()
        return StreamRef(streams.RAW, start, total, total)

    def finish(self, files: list[FileEntry]) -> int:
        """Write index and footer; return the container's size in bytes."""
        raw = serialize(files)
        frame = zstandard.ZstdCompressor(level=max(self.level, 3)).compress(raw)
        self.f.write(frame)
        self.f.write(FOOTER.pack(self.pos, len(frame), len(raw), zlib.crc32(frame), FOOTER_MAGIC))
        self.pos += len(frame) + FOOTER.size
        return self.pos


class Reader:
    """An open .spz: validated index in ``files``; ``stream`` decodes one stream.

    A problem with the file is a ValueError (UnsupportedVersion for another version or
    unknown flags); the entry points name the file and raise CorruptContainer.
    """

    def __init__(self, path: Path, max_output: int = DEFAULT_MAX_OUTPUT):
        self.path = path
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if size < HEADER.size + FOOTER.size:
                raise ValueError(f"truncated: {size} bytes is smaller than any .spz")
            self.map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            self.files = self._open(size, max_output)
        except BaseException:
            self.close()
            raise

    def _open(self, size: int, max_output: int) -> list[FileEntry]:
        magic, version, flags, _ = HEADER.unpack_from(self.map, 0)
        if magic != MAGIC:
            raise ValueError("not a .spz container (wrong magic)")
        if version != VERSION:
            raise UnsupportedVersion(f"unsupported .spz version {version} (this reader knows {VERSION})")
        if flags:
            raise UnsupportedVersion(f"unsupported .spz flags {flags:#06x}")
        offset, stored, decoded, crc, tail = FOOTER.unpack_from(self.map, size - FOOTER.size)
        if tail != FOOTER_MAGIC:
            raise ValueError("truncated or corrupt: footer magic missing")
        self.data_end = size - FOOTER.size - stored
        if offset != self.data_end or offset < HEADER.size:
            raise ValueError("corrupt footer: index offset does not match the file size")
        if decoded > MAX_INDEX_BYTES:
            raise ValueError(f"index declares {decoded} bytes, over the {MAX_INDEX_BYTES}-byte cap")
        frame = self.map[offset : offset + stored]
        if zlib.crc32(frame) != crc:
            raise ValueError("corrupt index (crc32 mismatch)")
        files = parse(bytes(streams.unpack(streams.ZSTD, frame, decoded, magic=True)))
        _validate(files, self.data_end, max_output)
        return files

    def stream(self, ref: StreamRef):
        return streams.unpack(ref.codec, self.map[ref.offset : ref.offset + ref.stored], ref.decoded)

    def reader(self, ref: StreamRef):
        """A file-like ``read`` over the decoded stream (the skeleton can be large)."""
        view = memoryview(self.map)[ref.offset : ref.offset + ref.stored]
        if ref.codec == streams.RAW:
            return io.BytesIO(view)
        if streams.frame_size(view) != ref.decoded:
            raise ValueError("skeleton frame size does not match the index")
        dctx = zstandard.ZstdDecompressor(format=zstandard.FORMAT_ZSTD1_MAGICLESS)
        return dctx.stream_reader(view, read_across_frames=False)

    def close(self) -> None:
        try:
            self.map.close()
        except BufferError:  # a caller still holds a view; the mapping goes with it
            pass

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _validate(files: list[FileEntry], data_end: int, max_output: int) -> None:
    if not files or files[0].path != "":
        raise ValueError("index does not start with the model file")
    total = sum(f.size for f in files)
    if total > max_output:
        raise ValueError(f"declares {total} bytes of output, over the {max_output}-byte cap")
    seen = set()
    for f in files[1:]:
        key = safe_relative(f.path).as_posix()
        if key in seen:
            raise ValueError(f"external data file {f.path!r} listed twice")
        seen.add(key)
    for f in files:
        _check_ref(f.skeleton, data_end, f.size)
        position, restored = 0, f.skeleton.decoded
        for t in f.tensors:
            where = f"tensor {t.name!r}"
            if t.skeleton_offset < position or t.skeleton_offset > f.skeleton.decoded:
                raise ValueError(f"{where}: offset {t.skeleton_offset} out of order or past the skeleton")
            position = t.skeleton_offset
            restored += t.length
            if restored > f.size:
                raise ValueError(f"{where}: payloads add up to more than the declared file size")
            if t.esize not in ELEMENT_SIZES or t.length % t.esize:
                raise ValueError(f"{where}: element size {t.esize} does not fit its {t.length} bytes")
            n = t.length // t.esize
            if t.nnz > n:
                raise ValueError(f"{where}: {t.nnz} nonzeros in {n} elements")
            try:
                expected = codecs.by_id(t.encoding).lengths(n, t.esize, t.nnz, t.params)
            except ValueError as e:
                raise ValueError(f"{where}: {e}") from None
            if len(expected) != len(t.streams):
                raise ValueError(f"{where}: {len(t.streams)} streams, the encoding needs {len(expected)}")
            for ref, (lo, hi) in zip(t.streams, expected):
                _check_ref(ref, data_end, hi)
                if ref.decoded < lo:
                    raise ValueError(f"{where}: a stream declares {ref.decoded} bytes, expected {lo}..{hi}")
        if restored != f.size:
            raise ValueError(
                f"file {f.path or 'model'!r}: declared size {f.size} != {restored} restored bytes"
            )


def _check_ref(ref: StreamRef, data_end: int, max_decoded: int) -> None:
    if ref.offset < HEADER.size or ref.offset + ref.stored > data_end:
        raise ValueError(f"a stream at {ref.offset}+{ref.stored} lies outside the data region")
    if ref.decoded > max_decoded:
        raise ValueError(f"a stream declares {ref.decoded} bytes, more than the {max_decoded} it may hold")
    streams.check_sizes(ref.codec, ref.stored, ref.decoded)
