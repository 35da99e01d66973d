"""Pick the smallest encoding for one tensor, or keep it inline in the skeleton.

``Analysis`` does the work every codec shares for one payload once and caches it: the
mask of nonzero elements (an element is zero when all its bytes are zero, so -0.0 is
nonzero and round-trips exactly), the Rice plan, the values' byte planes, zstd of the
raw bytes.

A tensor kept inline stays in the skeleton stream, which zstd compresses with the rest
of the file. That is what makes a model without sparsity pack no larger than zstd of
the whole file (plus a constant): a tensor is only cut out when its best encoding,
plus its index record, beats zstd of its raw bytes.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from secateurs.spz import bitcode, codecs, planes, streams

MIN_CUT_BYTES = 64  # below this a record costs more than any encoding can save
MASK_SAMPLE = 4096  # bytes of packed mask per sample chunk
CLEAR_WIN = 0.92  # when the sampled raw estimate loses by this much, skip the exact check
SAMPLE_CHUNK = 1 << 14
SAMPLE_CHUNKS = 4


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
        return planes.element_view(self.flat, self.esize)

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
        gaps = bitcode.gaps_of(self.rare_positions)
        k = bitcode.best_k(gaps)
        return gaps, k, (bitcode.cost_bits(gaps, k) + 7) // 8

    @cached_property
    def values(self) -> planes.PlaneCoding:
        """The nonzero elements' byte planes, each in its best plane mode."""
        values = self.elements if self.nnz == self.n else np.compress(self.nonzero, self.elements, axis=0)
        return planes.code_planes(values, self.esize)

    @cached_property
    def dense(self) -> planes.PlaneCoding:
        """All elements' byte planes (zeros included)."""
        if self.nnz == self.n:
            return self.values
        return planes.code_planes(self.elements, self.esize)

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


def record_overhead(name: str, n_streams: int) -> int:
    """Rough bytes one tensor record adds to the compressed index (measured: ~16 + 3/stream)."""
    return len(name.encode()) + 16 + 3 * n_streams


def candidates(an: Analysis) -> list[codecs.Encoded]:
    """The encodings worth trying: a mask only when some elements are zero.

    Rice's exact size is known from the gaps alone. The bitmask is only compressed when
    zstd shrinks samples of it below that rate, as it does for masks with structure
    (whole channels pruned); for scattered zeros Rice is within ~1% of the entropy.
    """
    if an.nnz == 0:
        return [codecs.get("zeros").encode(an)]
    if an.nnz == an.n:
        return [codecs.get("shuffle").encode(an)]
    rice_bytes = an.rice_plan[2]
    if not _bitmask_may_win(an, rice_bytes):
        return [codecs.get("rice").encode(an)]
    bitmask = codecs.get("bitmask").encode(an)
    if rice_bytes >= bitmask.streams[0].stored:
        return [bitmask]
    return [bitmask, codecs.get("rice").encode(an)]


def _bitmask_may_win(an: Analysis, rice_bytes: int) -> bool:
    """Whether zstd shrinks samples of the packed mask below the Rice code's rate.

    It does for masks with structure (whole channels pruned); for scattered zeros Rice
    is within about 1% of the entropy and the full bitmask is not worth compressing.
    """
    mask = np.packbits(an.nonzero)
    if mask.size <= 4 * MASK_SAMPLE:
        return True
    step = (mask.size - MASK_SAMPLE) // 3
    chunks = [mask[i * step : i * step + MASK_SAMPLE] for i in range(4)]
    sampled = sum(streams.pack(c).stored for c in chunks)
    return sampled < 1.02 * rice_bytes * (4 * MASK_SAMPLE) / mask.size


def choose(an: Analysis, name: str) -> codecs.Encoded | None:
    """The best encoding of this payload, or None to keep it inline."""
    if an.flat.size < MIN_CUT_BYTES:
        return None
    best = min(candidates(an), key=lambda e: e.size)
    cost = best.size + record_overhead(name, len(best.streams))
    inline, exact = an.raw_size_estimate()
    if not exact and cost < CLEAR_WIN * inline:
        return best
    return best if cost < an.raw_size else None


def all_sizes(an: Analysis) -> dict[str, int]:
    """Bytes every applicable encoding takes (for inspect; slower than ``choose``)."""
    sizes = {}
    for name in codecs.names():
        encoded = codecs.get(name).encode(an)
        if encoded is not None:
            sizes[name] = encoded.size
    return sizes
