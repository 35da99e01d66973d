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
"""

from __future__ import annotations

import numpy as np

from secateurs.spz import streams

BYTES, PALETTE, SPLIT = 0, 1, 2
MAX_PALETTE = 16
N_STREAMS = {BYTES: 1, PALETTE: 1, SPLIT: 2}
SPLIT_SLACK_BITS = 0.02  # split only when the sign bit is (nearly) independent of the rest


def _entropy_bits(hist: np.ndarray) -> float:
    total = hist.sum()
    p = hist[hist > 0] / total
    return float(-(p * np.log2(p)).sum())


def _index_bits(d: int) -> int:
    return 0 if d <= 1 else 1 if d <= 2 else 2 if d <= 4 else 4 if d <= MAX_PALETTE else 8


def encode(plane: np.ndarray, level: int) -> tuple[int, list[streams.Stream]]:
    """Pick a mode for ``plane`` (contiguous uint8) and return ``(mode, streams)``."""
    if plane.size < 64:
        return BYTES, [streams.pack(plane, level)]
    hist = np.bincount(plane, minlength=256)
    distinct = np.count_nonzero(hist)
    low_hist = hist[:128] + hist[128:]
    low_distinct = np.count_nonzero(low_hist)
    if low_distinct <= MAX_PALETTE and 1 + _index_bits(low_distinct) < _index_bits(distinct):
        top = np.array([hist[:128].sum(), hist[128:].sum()])
        if _entropy_bits(top) + _entropy_bits(low_hist) <= _entropy_bits(hist) + SPLIT_SLACK_BITS:
            signs = streams.pack(np.packbits(plane >> 7), level)
            return SPLIT, [signs, streams.pack(_palette(plane & 0x7F, low_hist), level)]
    if distinct <= MAX_PALETTE:
        return PALETTE, [streams.pack(_palette(plane, hist), level)]
    return BYTES, [streams.pack(plane, level)]


def _palette(plane: np.ndarray, hist: np.ndarray) -> np.ndarray:
    table = np.flatnonzero(hist).astype(np.uint8)
    bits = _index_bits(table.size)
    head = np.concatenate([np.array([table.size], dtype=np.uint8), table])
    if bits == 0:
        return head
    lut = np.zeros(256, dtype=np.uint8)
    lut[table] = np.arange(table.size, dtype=np.uint8)
    index = lut[plane]
    if bits == 1:
        return np.concatenate([head, np.packbits(index)])
    per = 8 // bits
    padded = np.zeros(-(-index.size // per) * per, dtype=np.uint8)
    padded[: index.size] = index
    grid = padded.reshape(-1, per)
    packed = grid[:, 0] << (8 - bits)
    for i in range(1, per):
        packed |= grid[:, i] << (8 - bits * (i + 1))
    return np.concatenate([head, packed])


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
    bits = _index_bits(d)
    if packed.size != (count * bits + 7) // 8:
        raise ValueError(f"palette holds {packed.size} index bytes, expected {(count * bits + 7) // 8}")
    if bits == 0:
        return np.full(count, table[0], dtype=np.uint8)
    if bits == 1:
        index = np.unpackbits(packed, count=count)
    else:
        per = 8 // bits
        grid = np.empty((packed.size, per), dtype=np.uint8)
        for i in range(per):
            grid[:, i] = (packed >> (8 - bits * (i + 1))) & ((1 << bits) - 1)
        index = grid.reshape(-1)[:count]
    if int(index.max(initial=0)) >= d:
        raise ValueError("palette index past the table")
    return table[index]
