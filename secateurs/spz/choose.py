"""Pick the smallest encoding for one tensor, or keep it inline in the skeleton.

A tensor kept inline stays in the skeleton stream, which zstd compresses with the rest
of the file. That is what makes a model without sparsity pack no larger than zstd of
the whole file (plus a constant): a tensor is only cut out when its best encoding,
plus its index record, beats zstd of its raw bytes.
"""

from __future__ import annotations

from secateurs.spz import codecs
from secateurs.spz.analysis import Analysis

MIN_CUT_BYTES = 64  # below this a record costs more than any encoding can save
CLEAR_WIN = 0.92  # when the sampled raw estimate loses by this much, skip the exact check
SPARSE_CANDIDATES = ("bitmask", "rice")


def record_overhead(name: str, n_streams: int) -> int:
    """Rough bytes one tensor record adds to the compressed index."""
    return len(name.encode()) + 24 + 6 * n_streams


def candidates(an: Analysis) -> list[codecs.Encoded]:
    """The encodings worth trying: a mask only when some elements are zero."""
    if an.nnz == 0:
        return [codecs.get("zeros").encode(an)]
    if an.nnz == an.n:
        return [codecs.get("shuffle").encode(an)]
    return [codecs.get(name).encode(an) for name in SPARSE_CANDIDATES]


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
