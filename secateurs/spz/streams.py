"""Byte streams as stored in a .spz: raw, or one zstd frame, whichever is smaller.

Stream frames are written without zstd's 4-byte magic number (zstd's "magicless"
format): the index already says which codec a stream uses, and on a tensor with a few
hundred nonzeros those bytes are a visible share of each plane. (The index frame, which
nothing else describes, keeps its magic.)

Decoding never trusts the frame: its header must declare exactly the size the index
declared, the index's size must be possible for zstd (at most 32768:1, the ratio of an
RLE block), and nothing may follow the frame. So a crafted stream cannot make us
allocate more than the caps the index was already checked against.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import zstandard

RAW = 0
ZSTD = 1
ZSTD_MAX_RATIO = 32768  # 4-byte RLE block -> 128 KiB: nothing in a zstd frame expands more

_local = threading.local()


@dataclass
class Stream:
    """Stored bytes of one stream and the length they decode to."""

    codec: int
    data: bytes | memoryview
    decoded: int

    @property
    def stored(self) -> int:
        return len(self.data)


ENTROPY = "entropy"  # the profile for byte planes, palettes and masks (see compressor)


def compressor(level: int | str):
    """A per-thread zstd compressor (they are not thread-safe) for ``level``.

    ``ENTROPY`` is zstd's fast strategy with 7-byte minimum matches and a 128 KiB
    window: on near-random bytes where Huffman does the work, it codes smaller than
    level 3 (whose short matches cost more than they save) at about 3x the speed.
    """
    cache = getattr(_local, "cctx", None)
    if cache is None:
        cache = _local.cctx = {}
    if level not in cache:
        if level == ENTROPY:
            params = zstandard.ZstdCompressionParameters(
                compression_level=1,
                strategy=zstandard.STRATEGY_FAST,
                min_match=7,
                search_log=1,
                hash_log=12,
                window_log=17,
                write_content_size=True,
                format=zstandard.FORMAT_ZSTD1_MAGICLESS,
            )
        else:
            params = zstandard.ZstdCompressionParameters.from_level(
                level, write_content_size=True, format=zstandard.FORMAT_ZSTD1_MAGICLESS
            )
        cache[level] = zstandard.ZstdCompressor(compression_params=params)
    return cache[level]


def frame_size(data, *, magic: bool = False) -> int:
    """The content size a zstd frame's header declares; ValueError if it has none."""
    fmt = zstandard.FORMAT_ZSTD1 if magic else zstandard.FORMAT_ZSTD1_MAGICLESS
    try:
        declared = zstandard.get_frame_parameters(data, format=fmt).content_size
    except zstandard.ZstdError as e:
        raise ValueError(f"bad zstd frame header ({e})") from None
    if declared < 0 or declared >= 1 << 63:
        raise ValueError("zstd frame declares no content size")
    return declared


def pack(buf, level: int | str = ENTROPY) -> Stream:
    """Store ``buf`` (bytes or a contiguous array) as zstd when that is smaller, else raw."""
    view = memoryview(buf).cast("B")
    n = view.nbytes
    if n < 16:
        return Stream(RAW, bytes(view), n)
    frame = compressor(level).compress(view)
    if len(frame) < n:
        return Stream(ZSTD, frame, n)
    return Stream(RAW, view, n)


def raw(buf) -> Stream:
    """Store ``buf`` as it is (for bytes known to be incompressible)."""
    view = memoryview(buf).cast("B")
    return Stream(RAW, view, view.nbytes)


def check_sizes(codec: int, stored: int, decoded: int) -> None:
    """Reject declared sizes no real stream can have (before anything is read)."""
    if codec == RAW:
        if stored != decoded:
            raise ValueError(f"raw stream declares {decoded} bytes but stores {stored}")
    elif codec == ZSTD:
        if decoded > stored * ZSTD_MAX_RATIO:
            raise ValueError(
                f"zstd stream of {stored} bytes declares {decoded} bytes, beyond zstd's 32768:1 limit"
            )
    else:
        raise ValueError(f"unknown stream codec {codec}")


def unpack(codec: int, data, decoded: int, *, magic: bool = False):
    """Decode one stream to exactly ``decoded`` bytes (raises ValueError otherwise).

    ``magic``: the frame starts with zstd's magic number (only the index frame does).
    """
    check_sizes(codec, len(data), decoded)
    if codec == RAW:
        return data
    declared = frame_size(data, magic=magic)
    if declared != decoded:
        raise ValueError(f"zstd frame declares {declared} bytes, the index {decoded}")
    cache = getattr(_local, "dctx", None)
    if cache is None:
        cache = _local.dctx = {}
    dctx = cache.get(magic)
    if dctx is None:
        fmt = zstandard.FORMAT_ZSTD1 if magic else zstandard.FORMAT_ZSTD1_MAGICLESS
        dctx = cache[magic] = zstandard.ZstdDecompressor(format=fmt)
    try:
        out = dctx.decompress(data, max_output_size=decoded, allow_extra_data=False)
    except zstandard.ZstdError as e:
        raise ValueError(f"corrupt zstd frame ({e})") from None
    if len(out) != decoded:
        raise ValueError(f"zstd frame decoded to {len(out)} bytes, expected {decoded}")
    return out
