"""The work every codec shares for one tensor, done once and cached.

A tensor is ``n`` elements of ``esize`` bytes. An element is zero when all its bytes are
zero, so -0.0 (sign bit set) is a nonzero value and round-trips exactly. Values are
byte-shuffled: plane j holds byte j of every element, in storage order, so the sign and
exponent bytes of floats land in one low-entropy plane that zstd codes well.
"""

from __future__ import annotations

from functools import cached_property
from typing import NamedTuple

import numpy as np

from secateurs.spz import gapcode, planes, streams

_WORD = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
SAMPLE_CHUNK = 1 << 14
SAMPLE_CHUNKS = 4


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
    modes: tuple[int, ...]  # one planes mode per byte plane
    streams: list[streams.Stream]


def code_planes(values: np.ndarray, esize: int) -> PlaneCoding:
    modes, out = [], []
    for plane in planes_of(values, esize):
        mode, coded = planes.encode(plane)
        modes.append(mode)
        out += coded
    return PlaneCoding(tuple(modes), out)


class Analysis:
    """Mask, nonzero values and their compressed planes of one tensor payload."""

    def __init__(self, data, esize: int, level: int):
        self.flat = np.frombuffer(data, dtype=np.uint8)
        if self.flat.size % esize:
            raise ValueError(f"{self.flat.size} bytes are not a whole number of {esize}-byte elements")
        self.esize = esize
        self.n = self.flat.size // esize
        self.level = level

    @cached_property
    def elements(self) -> np.ndarray:
        return element_view(self.flat, self.esize)

    @cached_property
    def nonzero(self) -> np.ndarray:
        e = self.elements
        return e != 0 if e.ndim == 1 else e.any(axis=1)

    @cached_property
    def nnz(self) -> int:
        return int(np.count_nonzero(self.nonzero))

    @property
    def sparsity(self) -> float:
        return 1.0 - self.nnz / self.n if self.n else 0.0

    @property
    def zeros_are_rarer(self) -> bool:
        return 2 * self.nnz >= self.n

    @cached_property
    def rare_positions(self) -> np.ndarray:
        """Positions of the rarer kind of element: zeros when most elements are nonzero."""
        return np.flatnonzero(~self.nonzero if self.zeros_are_rarer else self.nonzero)

    @cached_property
    def rice_plan(self) -> tuple[np.ndarray, int, int]:
        """``(gaps, k, bytes)``: gaps between rare positions, best Rice k, coded size."""
        gaps = gapcode.gaps_of(self.rare_positions)
        k = gapcode.best_k(gaps)
        return gaps, k, (gapcode.cost_bits(gaps, k) + 7) // 8

    @cached_property
    def values(self) -> PlaneCoding:
        """The nonzero elements' byte planes, each in its best plane mode."""
        values = self.elements if self.nnz == self.n else np.compress(self.nonzero, self.elements, axis=0)
        return code_planes(values, self.esize)

    @cached_property
    def dense(self) -> PlaneCoding:
        """All elements' byte planes (zeros included)."""
        if self.nnz == self.n:
            return self.values
        return code_planes(self.elements, self.esize)

    @cached_property
    def raw_size(self) -> int:
        """Exact size of the payload as one stream (what keeping it inline costs, roughly)."""
        return streams.pack(self.flat, self.level).stored

    def raw_size_estimate(self) -> tuple[int, bool]:
        """``(bytes, exact)``: zstd of the raw payload, from evenly spaced samples when large."""
        total = self.flat.size
        if "raw_size" in self.__dict__ or total <= SAMPLE_CHUNK * SAMPLE_CHUNKS * 2:
            return self.raw_size, True
        step = (total - SAMPLE_CHUNK) // (SAMPLE_CHUNKS - 1)
        packed = sum(
            streams.pack(self.flat[i * step : i * step + SAMPLE_CHUNK], self.level).stored
            for i in range(SAMPLE_CHUNKS)
        )
        return int(packed * total / (SAMPLE_CHUNK * SAMPLE_CHUNKS)), False
