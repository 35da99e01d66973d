"""bit_exact.same_bytes compares bytes without copying them, so it must judge exactly as tobytes()."""

from __future__ import annotations

import numpy as np
import pytest

from secateurs.validators.bit_exact import same_bytes

NAN_A = np.array([0x7FC00001], np.uint32).view(np.float32)[0]  # two NaNs with different payloads
NAN_B = np.array([0x7FC00002], np.uint32).view(np.float32)[0]
GRID = np.arange(24, dtype=np.float64).reshape(4, 6)

CASES = [
    (np.array([1.0, 0.0], np.float32), np.array([1.0, 0.0], np.float32)),
    (np.array([1.0, 0.0], np.float32), np.array([1.0, -0.0], np.float32)),
    (np.array([NAN_A]), np.array([NAN_A])),
    (np.array([NAN_A]), np.array([NAN_B])),
    (GRID.T, np.ascontiguousarray(GRID.T)),  # not contiguous, same values
    (GRID[:, ::2], GRID[:, 1::2]),
    (np.float32(2.5), np.array(2.5, np.float32)),  # 0-d
    (np.zeros((0, 3)), np.zeros((3, 0))),  # no bytes, different shapes
    (np.ones(3, np.float32), np.ones(3, np.int32)),  # different dtypes
    (np.ones(2, np.complex128), np.array([1, 1j])),  # 16-byte items
    (np.array([True, False]), np.array([True, False])),
    (np.arange(4, dtype=">i4"), np.arange(4, dtype="<i4")),  # same values, other byte order
]


@pytest.mark.parametrize(("a", "b"), CASES)
def test_same_bytes_judges_as_tobytes(a, b):
    a, b = np.asarray(a), np.asarray(b)
    expected = a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
    assert same_bytes(a, b) is expected and same_bytes(b, a) is expected
