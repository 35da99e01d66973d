"""Fixed-width unsigned integers packed into bytes, most significant bit first.

``pack(values, bits)`` writes each value in ``bits`` bits, back to back, and pads the
last byte with zero bits; ``unpack`` is its inverse. Widths that divide a byte (and 8,
16, 32) take fast paths; any other width up to 64 goes through a bit matrix.
"""

from __future__ import annotations

import numpy as np

MAX_BITS = 64


def packed_size(count: int, bits: int) -> int:
    return (count * bits + 7) // 8


def pack(values: np.ndarray, bits: int) -> np.ndarray:
    """``values`` (each < 2**bits) as a uint8 array of ``packed_size(len, bits)`` bytes."""
    if bits == 0 or values.size == 0:
        return np.zeros(0, dtype=np.uint8)
    if bits == 1:
        return np.packbits(values.astype(np.uint8, copy=False))
    if bits in (2, 4):
        per = 8 // bits
        padded = np.zeros(-(-values.size // per) * per, dtype=np.uint8)
        padded[: values.size] = values
        grid = padded.reshape(-1, per)
        out = grid[:, 0] << (8 - bits)
        for i in range(1, per):
            out |= grid[:, i] << (8 - bits * (i + 1))
        return out
    if bits in (8, 16, 32, 64):
        return values.astype(f">u{bits // 8}").view(np.uint8)
    if bits < 8:  # eight values fill exactly ``bits`` bytes: build them in one uint64
        grid = np.zeros((-(-values.size // 8), 8), dtype=np.uint64)
        grid.reshape(-1)[: values.size] = values
        word = grid[:, 0] << np.uint64(7 * bits)
        for j in range(1, 8):
            word |= grid[:, j] << np.uint64((7 - j) * bits)
        out = word.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 8 - bits :]
        return out.reshape(-1)[: packed_size(values.size, bits)]
    width = 8 if bits < 8 else 16 if bits < 16 else 32 if bits < 32 else 64
    matrix = np.unpackbits(values.astype(f">u{width // 8}").view(np.uint8).reshape(-1, width // 8), axis=1)
    return np.packbits(matrix[:, width - bits :])


def unpack(buf, count: int, bits: int) -> np.ndarray:
    """``count`` values of ``bits`` bits each (uint8 for bits <= 8, else uint64)."""
    raw = np.frombuffer(buf, dtype=np.uint8)
    if raw.size != packed_size(count, bits):
        raise ValueError(f"{raw.size} packed bytes for {count} values of {bits} bits")
    if bits == 0:
        return np.zeros(count, dtype=np.uint8)
    if bits == 1:
        return np.unpackbits(raw, count=count)
    if bits in (2, 4):
        per = 8 // bits
        grid = np.empty((raw.size, per), dtype=np.uint8)
        for i in range(per):
            np.right_shift(raw, 8 - bits * (i + 1), out=grid[:, i])
        grid &= (1 << bits) - 1
        return grid.reshape(-1)[:count]
    if bits == 8:
        return raw.copy()
    if bits in (16, 32, 64):
        return raw.view(f">u{bits // 8}").astype(np.uint64)
    if bits < 8:
        groups = -(-count // 8)
        padded = np.zeros(groups * bits, dtype=np.uint8)
        padded[: raw.size] = raw
        wide = np.zeros((groups, 8), dtype=np.uint8)
        wide[:, 8 - bits :] = padded.reshape(groups, bits)
        word = wide.view(">u8").reshape(-1)
        out = np.empty((groups, 8), dtype=np.uint8)
        mask = np.uint64((1 << bits) - 1)
        for j in range(8):
            out[:, j] = (word >> np.uint64((7 - j) * bits)) & mask
        return out.reshape(-1)[:count]
    if not 0 < bits <= MAX_BITS:
        raise ValueError(f"cannot unpack {bits}-bit values")
    width = 8 if bits < 8 else 16 if bits < 16 else 32 if bits < 32 else 64
    matrix = np.zeros((count, width), dtype=np.uint8)
    matrix[:, width - bits :] = np.unpackbits(raw, count=count * bits).reshape(count, bits)
    values = np.packbits(matrix, axis=1).view(f">u{width // 8}").ravel()
    return values.astype(np.uint8 if width == 8 else np.uint64)
