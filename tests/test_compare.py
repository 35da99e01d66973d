"""compare_array's fast path for all-finite floats gives exactly the numbers of the plain
float64 formula below (the report prints them), and NaN/Inf still fail."""

from __future__ import annotations

import numpy as np
import pytest

from secateurs.validators.compare import compare_array


def reference(a: np.ndarray, b: np.ndarray, atol: float, rtol: float) -> tuple:
    """The tolerance rule written plainly: (n_bad, max_abs, max_rel, mean_abs)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    diff = np.abs(a64 - b64)
    bad = diff > atol + rtol * np.abs(b64)
    rel = diff / np.maximum(np.abs(b64), np.finfo(np.float64).tiny)
    if not diff.size:
        return 0, 0.0, 0.0, 0.0
    return int(bad.sum()), float(diff.max()), float(rel.max()), float(diff[np.ones_like(bad)].mean())


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(0,), (1,), (3, 7), (2, 3, 50, 17)])
@pytest.mark.parametrize("noise", [0.0, 1e-5, 1e-2])
def test_fast_path_equals_the_plain_formula(shape, dtype, noise):
    rng = np.random.default_rng(len(shape))
    b = rng.standard_normal(shape).astype(dtype)
    a = (b + noise * rng.standard_normal(shape)).astype(dtype)
    if b.size:
        b.reshape(-1)[0] = 0.0  # a zero reference: the relative error divides by tiny
    got = compare_array("out", a, b, 1e-4, 1e-3)
    n_bad, max_abs, max_rel, mean_abs = reference(a, b, 1e-4, 1e-3)
    assert (got.n_bad, got.max_abs, got.max_rel, got.mean_abs) == (n_bad, max_abs, max_rel, mean_abs)
    assert got.passed is (n_bad == 0) and got.numel == b.size
    assert got.message == (f"{n_bad} of {b.size} elements outside tolerance" if n_bad else "")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("side", ["actual", "expected"])
def test_non_finite_values_always_fail(bad, side):
    a, b = np.ones(5, np.float32), np.ones(5, np.float32)
    (a if side == "actual" else b)[2] = bad
    got = compare_array("out", a, b, 1e-4, 1e-3)
    assert not got.passed and got.n_bad == 1 and "(1 NaN/Inf)" in got.message
    assert got.max_abs == np.inf and got.mean_abs == 0.0
