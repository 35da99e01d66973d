"""Integers in bit streams, most significant bit first: fixed-width packing and Rice codes.

``pack(values, bits)`` writes each value in ``bits`` bits, back to back, and pads the
last byte with zero bits; ``unpack`` is its inverse. Widths that divide a byte (and 8,
16, 32) take fast paths; any other width up to 64 goes through a bit matrix. Palette
indices (planes.py) and Rice remainders use it.

Rice codes of the gaps between sorted positions: at high (or low) sparsity a bitmask
wastes bits: zstd cannot code a byte in under one bit, but a mask byte at 99% sparsity
carries 0.65 bits. The gaps between the positions of the rarer symbol are geometric, and
a Rice code (quotient in unary, k-bit remainder) is within about 1% of their entropy for
the best k. Quotients and remainders go to two separate bit streams so that both
directions vectorize: unary codes are found with ``flatnonzero`` and fixed-width
remainders with a reshape.
"""

from __future__ import annotations

import math

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


MAX_K = 40


def gaps_of(positions: np.ndarray) -> np.ndarray:
    """Zero-based gaps: the number of skipped slots before each position."""
    gaps = np.empty_like(positions)
    if positions.size:
        gaps[0] = positions[0]
        np.subtract(positions[1:], positions[:-1], out=gaps[1:])
        gaps[1:] -= 1
    return gaps


def cost_bits(gaps: np.ndarray, k: int) -> int:
    return int(gaps.size) * (k + 1) + int(np.sum(gaps >> k))


def best_k(gaps: np.ndarray) -> int:
    """The Rice parameter with the fewest total bits.

    Kiely's estimate for geometric gaps of mean mu, ceil(log2(log(phi - 1) / log(mu /
    (mu + 1)))), is checked against its two neighbours on the actual gaps.
    """
    if gaps.size == 0:
        return 0
    mean = float(gaps.mean())
    guess = 0
    if mean > 0:
        guess = max(0, math.ceil(math.log2(math.log((math.sqrt(5) - 1) / 2) / math.log(mean / (mean + 1)))))
    ks = range(max(0, guess - 1), min(MAX_K, guess + 1) + 1)
    return min(ks, key=lambda k: cost_bits(gaps, k))


def rice_encode(gaps: np.ndarray, k: int) -> tuple[bytes, bytes]:
    """Return ``(quotients, remainders)``: unary quotient bits and k-bit remainders."""
    quotients = gaps >> k
    ones = np.cumsum(quotients + 1) - 1
    bits = np.zeros(int(ones[-1]) + 1 if ones.size else 0, dtype=np.uint8)
    bits[ones] = 1
    qstream = np.packbits(bits).tobytes()
    rstream = pack(gaps & ((1 << k) - 1), k)
    return qstream, rstream.tobytes()


def rice_decode(qstream, rstream, count: int, k: int, n: int) -> np.ndarray:
    """Positions (int64, strictly increasing, all < n) of ``count`` coded gaps.

    Raises ValueError when the streams do not hold exactly that many gaps within n slots.
    """
    if not 0 <= k <= MAX_K:
        raise ValueError(f"Rice parameter {k} outside 0..{MAX_K}")
    if len(rstream) != packed_size(count, k):
        raise ValueError(f"remainder stream is {len(rstream)} bytes, expected {packed_size(count, k)}")
    if count == 0:
        if len(qstream):
            raise ValueError("quotient stream holds data but no gaps are declared")
        return np.zeros(0, dtype=np.int64)
    ones = np.flatnonzero(np.unpackbits(np.frombuffer(qstream, dtype=np.uint8)).view(bool))
    if ones.size != count or len(qstream) != int(ones[-1]) // 8 + 1:
        raise ValueError(f"quotient stream holds {ones.size} codes, expected {count}")
    gaps = np.diff(ones, prepend=-1)
    gaps -= 1
    if int(gaps.max()) > (n >> k):
        raise ValueError("a gap runs past the end of the tensor")
    gaps <<= k
    if k:
        gaps |= unpack(rstream, count, k).astype(np.int64)
    gaps += 1
    positions = np.cumsum(gaps, out=gaps)
    positions -= 1
    if int(positions[-1]) >= n:
        raise ValueError(f"position {int(positions[-1])} is past the tensor's {n} elements")
    return positions
