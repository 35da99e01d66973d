"""Rice coding of the gaps between sorted positions, vectorized with numpy.

At high (or low) sparsity a bitmask wastes bits: zstd cannot code a byte in under one
bit, but a mask byte at 99% sparsity carries 0.65 bits. The gaps between the positions
of the rarer symbol are geometric, and a Rice code (quotient in unary, k-bit remainder)
is within about 1% of their entropy for the best k. Quotients and remainders go to two
separate bit streams so that both directions vectorize: unary codes are found with
``flatnonzero`` and fixed-width remainders with a reshape.

Bits are packed most significant first (numpy's ``packbits`` default); the last byte of
each stream is padded with zero bits.
"""

from __future__ import annotations

import math

import numpy as np

from secateurs.spz import bitpack

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


def encode(gaps: np.ndarray, k: int) -> tuple[bytes, bytes]:
    """Return ``(quotients, remainders)``: unary quotient bits and k-bit remainders."""
    quotients = gaps >> k
    ones = np.cumsum(quotients + 1) - 1
    bits = np.zeros(int(ones[-1]) + 1 if ones.size else 0, dtype=np.uint8)
    bits[ones] = 1
    qstream = np.packbits(bits).tobytes()
    rstream = bitpack.pack(gaps & ((1 << k) - 1), k)
    return qstream, rstream.tobytes()


def decode(qstream, rstream, count: int, k: int, n: int) -> np.ndarray:
    """Positions (int64, strictly increasing, all < n) of ``count`` coded gaps.

    Raises ValueError when the streams do not hold exactly that many gaps within n slots.
    """
    if not 0 <= k <= MAX_K:
        raise ValueError(f"Rice parameter {k} outside 0..{MAX_K}")
    if len(rstream) != bitpack.packed_size(count, k):
        raise ValueError(
            f"remainder stream is {len(rstream)} bytes, expected {bitpack.packed_size(count, k)}"
        )
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
        gaps |= bitpack.unpack(rstream, count, k).astype(np.int64)
    gaps += 1
    positions = np.cumsum(gaps, out=gaps)
    positions -= 1
    if int(positions[-1]) >= n:
        raise ValueError(f"position {int(positions[-1])} is past the tensor's {n} elements")
    return positions
