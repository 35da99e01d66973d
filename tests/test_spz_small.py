"""Tiny, highly sparse tensors: the fixed costs of an encoding must not swamp their bytes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from secateurs.spz import choose, codecs, streams
from secateurs.spz.choose import Analysis


def _sparse(n: int, nnz: int, seed: int) -> np.ndarray:
    """Magnitude-pruned Gaussian weights: the ``nnz`` largest survive."""
    w = (np.random.default_rng(seed).standard_normal(n) * 0.1).astype(np.float32)
    w[np.argsort(np.abs(w))[: n - nnz]] = 0
    return w


def _entropy_bytes(values: np.ndarray) -> float:
    p = np.unique(values, return_counts=True)[1] / values.size
    return float(-(p * np.log2(p)).sum()) * values.size / 8


def _mask_bytes(n: int, nnz: int) -> float:
    p = nnz / n
    return n * -(p * math.log2(p) + (1 - p) * math.log2(1 - p)) / 8


@pytest.mark.parametrize("n, nnz", [(144, 1), (144, 2), (144, 3), (2304, 23), (4608, 46)])
@pytest.mark.parametrize("seed", [0, 1])
def test_tiny_sparse_tensor_costs_little_over_its_bound(n: int, nnz: int, seed: int) -> None:
    """Mask near its entropy, random mantissa bytes as they are, the top byte in bits."""
    w = _sparse(n, nnz, seed)
    an = Analysis(w.tobytes(), 4, 3)
    best = min(choose.candidates(an), key=lambda e: e.size)
    # the low three bytes of a random float are incompressible: count them whole
    top = w[w != 0].view(np.uint32) >> 24
    floor = _mask_bytes(n, nnz) + 3 * nnz + _entropy_bytes(top)
    assert best.size <= floor + 6, (best.encoding, [s.stored for s in best.streams], floor)
    codec = codecs.get(best.encoding)
    data = [streams.unpack(s.codec, bytes(s.data), s.decoded) for s in best.streams]
    assert codec.decode(data, n, 4, nnz, best.params).tobytes() == w.tobytes()


def test_tiny_tensor_is_cut_out_only_when_that_is_smaller() -> None:
    w = _sparse(144, 2, 0)
    an = Analysis(w.tobytes(), 4, 3)
    chosen = choose.choose(an, "conv1.weight")
    best = min(choose.candidates(an), key=lambda e: e.size)
    if chosen is None:
        assert best.size + choose.record_overhead("conv1.weight", len(best.streams)) >= an.raw_size
    else:
        assert chosen.size < an.raw_size
