"""Pick the smallest encoding for one tensor, or keep it inline in the skeleton.

A tensor kept inline stays in the skeleton stream, which zstd compresses with the rest
of the file. That is what makes a model without sparsity pack no larger than zstd of
the whole file (plus a constant): a tensor is only cut out when its best encoding,
plus its index record, beats zstd of its raw bytes.
"""

from __future__ import annotations

import numpy as np

from secateurs.spz import codecs, streams
from secateurs.spz.analysis import Analysis

MIN_CUT_BYTES = 64  # below this a record costs more than any encoding can save
MASK_SAMPLE = 4096  # bytes of packed mask per sample chunk
CLEAR_WIN = 0.92  # when the sampled raw estimate loses by this much, skip the exact check


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
