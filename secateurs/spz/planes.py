"""Code one byte plane close to its order-0 entropy, using zstd as the entropy coder.

zstd codes literals with Huffman, which cannot spend under one bit on a byte. The top
plane of a float (sign + high exponent bits) carries one to three bits, so on its own
zstd overshoots it by 30-50%. Two transforms fix that without a new entropy coder:

* palette: a plane with at most 16 distinct bytes is stored as a table plus 1-, 2- or
  4-bit indices, packed 8, 4 or 2 to a byte, so Huffman codes several symbols at once;
* split: the top bit (a float's sign: one incompressible bit) goes to its own packed
  bit stream and the low 7 bits, now with few distinct values, get a palette.

Modes: 0 = bytes (one stream), 1 = palette (one stream), 2 = split (two streams).
A palette stream is: d (1 byte), the d table bytes, then the packed indices.

Values are byte-shuffled first: plane j holds byte j of every element, in storage
order, so the sign and exponent bytes of floats land in one low-entropy plane.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from secateurs.spz import bitcode, streams

BYTES, PALETTE, SPLIT = 0, 1, 2
MAX_PALETTE = 16
N_STREAMS = {BYTES: 1, PALETTE: 1, SPLIT: 2}
SPLIT_SLACK_BITS = 0.02  # split only when the sign bit is (nearly) independent of the rest
SAMPLE = 1 << 16  # about this many bytes of a plane are histogrammed for decisions
SMALL = 4096  # planes shorter than this try every mode
RAW_ENTROPY_BITS = 7.95  # zstd keeps such bytes raw anyway (Huffman must save 1/64)


def _entropy_bits(hist: np.ndarray) -> float:
    total = hist.sum()
    p = hist[hist > 0] / total
    return float(-(p * np.log2(p)).sum())


def _index_bits(d: int) -> int:
    return 0 if d <= 1 else 1 if d <= 2 else 2 if d <= 4 else 4 if d <= MAX_PALETTE else 8


def encode(plane: np.ndarray) -> tuple[int, list[streams.Stream]]:
    """Pick a mode for ``plane`` (contiguous uint8) and return ``(mode, streams)``.

    Decisions come from a strided sample; the whole plane is only scanned (min/max)
    to confirm a palette the sample suggests. A palette is the value range [min, max]
    when that spans at most 16 values, else the sample's distinct values, verified.
    """
    if plane.size < SMALL:
        return _smallest(plane)
    hist = np.bincount(plane[:: max(1, plane.size // SAMPLE)], minlength=256)
    seen = np.flatnonzero(hist)
    if seen[-1] - seen[0] < MAX_PALETTE:
        lo, hi = int(plane.min()), int(plane.max())
        if hi - lo < MAX_PALETTE:
            return PALETTE, [streams.pack(_palette(plane, np.arange(lo, hi + 1)))]
    low_seen = np.flatnonzero(hist[:128] + hist[128:])
    if low_seen[-1] - low_seen[0] < MAX_PALETTE and _sign_independent(hist):
        low = plane & 0x7F
        lo, hi = int(low.min()), int(low.max())
        if hi - lo < MAX_PALETTE:
            signs = streams.pack(np.packbits(plane >> 7))
            return SPLIT, [signs, streams.pack(_palette(low, np.arange(lo, hi + 1)))]
    if seen.size <= MAX_PALETTE:
        packed = _palette(plane, seen)
        if packed is not None:
            return PALETTE, [streams.pack(packed)]
    if _entropy_bits(hist) >= RAW_ENTROPY_BITS:
        return BYTES, [streams.raw(plane)]
    return BYTES, [streams.pack(plane)]


def _smallest(plane: np.ndarray) -> tuple[int, list[streams.Stream]]:
    """Every mode that applies, sized exactly: on a few hundred bytes a header decides."""
    options = [(BYTES, [streams.pack(plane)])]
    if plane.size:
        seen = np.flatnonzero(np.bincount(plane, minlength=256))
        if seen.size <= MAX_PALETTE:
            options.append((PALETTE, [streams.pack(_palette(plane, _table(seen)))]))
        low = plane & 0x7F
        low_seen = np.flatnonzero(np.bincount(low, minlength=128))
        if low_seen.size <= MAX_PALETTE:
            packed = _palette(low, _table(low_seen))
            options.append((SPLIT, [streams.pack(np.packbits(plane >> 7)), streams.pack(packed)]))
    return min(options, key=lambda o: sum(s.stored for s in o[1]))


def _table(seen: np.ndarray) -> np.ndarray:
    """The distinct values, or the range they span when that needs no wider index."""
    span = np.arange(seen[0], seen[-1] + 1)
    return span if _index_bits(span.size) == _index_bits(seen.size) else seen


def _sign_independent(hist: np.ndarray) -> bool:
    """Whether coding the top bit apart costs (almost) nothing over coding whole bytes."""
    top = np.array([hist[:128].sum(), hist[128:].sum()])
    split = _entropy_bits(top) + _entropy_bits(hist[:128] + hist[128:])
    return split <= _entropy_bits(hist) + SPLIT_SLACK_BITS


def _palette(plane: np.ndarray, table: np.ndarray) -> np.ndarray | None:
    """Header + packed indices of ``plane`` into ``table`` (None if a value is missing)."""
    d = table.size
    width = _index_bits(d)
    head = np.concatenate([np.array([d], dtype=np.uint8), table.astype(np.uint8)])
    if width == 0:
        return head
    if table[-1] - table[0] == d - 1:  # a range: plain subtraction
        index = plane - np.uint8(table[0])
    else:
        lut = np.full(256, 255, dtype=np.uint8)
        lut[table] = np.arange(d, dtype=np.uint8)
        index = lut[plane]
        if int(index.max()) >= d:
            return None
    return np.concatenate([head, bitcode.pack(index, width)])


def lengths(mode: int, count: int) -> list[tuple[int, int]]:
    """Allowed decoded length of each stream of a plane of ``count`` bytes."""
    if mode == BYTES:
        return [(count, count)]
    palette = (1 if count == 0 else 2, 1 + MAX_PALETTE + (count * 4 + 7) // 8)
    if mode == PALETTE:
        return [palette]
    if mode == SPLIT:
        return [((count + 7) // 8,) * 2, palette]
    raise ValueError(f"unknown plane mode {mode}")


def decode(mode: int, data: list, count: int) -> np.ndarray:
    """Inverse of ``encode``: ``count`` plane bytes from the mode's decoded streams."""
    if mode == BYTES:
        return np.frombuffer(data[0], dtype=np.uint8)
    if mode == PALETTE:
        return _unpalette(data[0], count)
    top = np.unpackbits(np.frombuffer(data[0], dtype=np.uint8), count=count)
    out = _unpalette(data[1], count)
    if out.size and int(out.max()) > 0x7F:
        raise ValueError("split plane's low part has its top bit set")
    top <<= 7
    out |= top
    return out


def _unpalette(buf, count: int) -> np.ndarray:
    raw = np.frombuffer(buf, dtype=np.uint8)
    if raw.size < 1 or not 1 <= raw[0] <= MAX_PALETTE or raw.size < 1 + raw[0]:
        raise ValueError("bad palette header")
    d = int(raw[0])
    table, packed = raw[1 : 1 + d], raw[1 + d :]
    width = _index_bits(d)
    if width == 0:
        if packed.size:
            raise ValueError("one-value palette with index bytes")
        return np.full(count, table[0], dtype=np.uint8)
    index = bitcode.unpack(packed, count, width)
    if int(index.max(initial=0)) >= d:
        raise ValueError("palette index past the table")
    if int(table[-1]) - int(table[0]) == d - 1 and bool(np.all(np.diff(table.astype(np.int16)) == 1)):
        index += table[0]
        return index
    return table[index]


_WORD = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def element_view(flat: np.ndarray, esize: int) -> np.ndarray:
    """Bytes as one item per element: an unsigned word, or a row of words for wide types."""
    if esize in _WORD:
        return flat.view(_WORD[esize])
    if esize % 8 == 0:
        return flat.view(np.uint64).reshape(-1, esize // 8)
    return flat.reshape(-1, esize)


def planes_of(values: np.ndarray, esize: int) -> list[np.ndarray]:
    """Byte planes (contiguous uint8 arrays) of elements given as ``element_view`` items."""
    as_bytes = values.view(np.uint8).reshape(-1, esize)
    return [np.ascontiguousarray(as_bytes[:, j]) for j in range(esize)]


class PlaneCoding(NamedTuple):
    modes: tuple[int, ...]  # one plane mode per byte plane
    streams: list[streams.Stream]


def code_planes(values: np.ndarray, esize: int) -> PlaneCoding:
    """Every byte plane of ``values`` (``element_view`` items), each in its best mode."""
    modes, out = [], []
    for plane in planes_of(values, esize):
        mode, coded = encode(plane)
        modes.append(mode)
        out += coded
    return PlaneCoding(tuple(modes), out)
