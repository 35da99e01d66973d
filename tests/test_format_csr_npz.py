"""CSR .npz: exact round trips through a real file, scipy checks, malformed files, atomicity."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import scipy.sparse

from secateurs.errors import ExportError, InputError, OutputError
from secateurs.exporters.csr_npz_codec import FORMAT, load_csr_matrices, load_csr_npz, save_csr_npz
from tests.sparse_helpers import pruned, same_bits

SHAPES = [(8, 4, 3, 3), (16, 1, 3, 3), (4, 8, 1, 1), (3, 5, 2, 7), (6, 10)]
SPARSITIES = [0.0, 0.3, 0.7, 0.99, 1.0]
DTYPES = [np.float32, np.float64]  # scipy.sparse holds no float16


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sparsity", SPARSITIES)
@pytest.mark.parametrize("shape", SHAPES)
def test_round_trip_through_file_is_bit_exact(tmp_path, shape, sparsity, dtype):
    w = pruned(shape, sparsity, dtype)
    path = tmp_path / "weights.npz"
    (rec,) = save_csr_npz({"conv.weight": w}, path)
    assert rec.nnz == np.count_nonzero(w) and rec.encoding == "csr-int32"
    assert rec.stored_bytes == rec.nnz * (w.dtype.itemsize + 4) + 4 * (shape[0] + 1)
    assert same_bits(load_csr_npz(path)["conv.weight"], w)
    m = load_csr_matrices(path)["conv.weight"]
    assert isinstance(m, scipy.sparse.csr_matrix) and m.has_canonical_format
    assert same_bits(m.toarray(), w.reshape(shape[0], -1))


def test_layout_is_readable_with_plain_numpy(tmp_path):
    w = pruned((4, 2, 3, 3), 0.7, np.float32)
    save_csr_npz({"a/b:c": w, "z": np.zeros((2, 3), np.float64)}, tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz", allow_pickle=False) as f:
        assert len(f.files) == 1 + 2 * 3
        meta = json.loads(str(f["__meta__"]))
        assert meta == {
            "format": FORMAT,
            "weights": [
                {"name": "a/b:c", "shape": [4, 2, 3, 3], "dtype": "float32"},
                {"name": "z", "shape": [2, 3], "dtype": "float64"},
            ],
        }
        assert f["a/b:c.indptr"].shape == (5,) and f["z.data"].size == 0
        ref = scipy.sparse.csr_matrix(w.reshape(4, -1))
        assert np.array_equal(f["a/b:c.indices"], ref.indices)
        assert np.array_equal(f["a/b:c.indptr"], ref.indptr)


def test_negative_zeros_decode_as_positive_zero(tmp_path):
    w = pruned((4, 2, 3, 3), 0.5, np.float32)
    w[w == 0] = -0.0
    (rec,) = save_csr_npz({"w": w}, tmp_path / "w.npz")
    got = load_csr_npz(tmp_path / "w.npz")["w"]
    assert "negative zero" in rec.note and rec.nnz == np.count_nonzero(w)
    assert np.array_equal(got, w) and not np.signbit(got[got == 0]).any()


@pytest.mark.parametrize(
    "arr", [np.ones((4, 4), np.float16), np.ones(5, np.float32), np.ones((2, 2), np.int64)]
)
def test_unsupported_arrays_are_rejected(tmp_path, arr):
    with pytest.raises(ExportError, match="float32/float64"):
        save_csr_npz({"w": arr}, tmp_path / "w.npz")
    assert not os.listdir(tmp_path)


def test_write_is_atomic(tmp_path):
    path = tmp_path / "w.npz"
    save_csr_npz({"w": pruned((4, 4), 0.5, np.float32)}, path)
    before = path.read_bytes()
    with pytest.raises(ExportError):
        save_csr_npz({"w": np.ones(3, np.float32)}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["w.npz"]
    with pytest.raises(OutputError, match="missing"):
        save_csr_npz({"w": pruned((4, 4), 0.5, np.float32)}, tmp_path / "missing" / "w.npz")


def _corrupt(tmp_path, **changes):
    """Write a valid file, then rewrite it with some arrays replaced or removed."""
    path = tmp_path / "w.npz"
    save_csr_npz({"w": pruned((4, 2, 3, 3), 0.5, np.float32)}, path)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    np.savez(path, **arrays)
    return path


def meta(shape, dtype) -> np.ndarray:
    entry = {"name": "w", "shape": shape, "dtype": dtype}
    return np.array(json.dumps({"format": FORMAT, "weights": [entry]}))


MALFORMED = {
    "missing part": ({"w.indptr": None}, "lacks"),
    "wrong format tag": ({"__meta__": np.array('{"format": "other/1"}')}, "__meta__"),
    "meta not json": ({"__meta__": np.array("{")}, "w.npz"),
    "bad shape": ({"__meta__": meta([4, -18], "float32")}, "shape"),
    "indptr not monotonic": ({"w.indptr": np.array([0, 9, 5, 20, 36], np.int32)}, "indptr"),
    "column out of range": ({"w.indices": np.full(36, 99, np.int32)}, "out of range"),
    "unsorted columns": ({"w.indices": np.tile(np.arange(9)[::-1], 4).astype(np.int32)}, "increasing"),
    "dtype mismatch": ({"__meta__": meta([4, 2, 3, 3], "float64")}, "dtype"),
    "pickled object": ({"w.data": np.array([object()], dtype=object)}, "pickle"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_files_raise_input_error(tmp_path, case):
    changes, message = MALFORMED[case]
    if case in ("column out of range", "unsorted columns"):
        changes = {**changes, "w.indptr": np.array([0, 9, 18, 27, 36], np.int32)}
        changes.update({"w.data": np.ones(36, np.float32)})
    path = _corrupt(tmp_path, **changes)
    for loader in (load_csr_npz, load_csr_matrices):
        with pytest.raises(InputError, match=message):
            loader(path)


def test_missing_or_non_zip_file_raises_input_error(tmp_path):
    with pytest.raises(InputError, match="nope.npz"):
        load_csr_npz(tmp_path / "nope.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="bad.npz"):
        load_csr_matrices(tmp_path / "bad.npz")


def _masked(shape, seed, fill):
    """Random floats whose zeros follow ``fill``: a keep-probability, or "none"/"all"; some
    zeros are -0.0 and one kept value is NaN, which CSR stores like any other."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape).astype(np.float32)
    keep = {"none": np.zeros(shape, bool), "all": np.ones(shape, bool)}.get(fill)
    keep = rng.random(shape) < fill if keep is None else keep
    w[~keep] = np.where(rng.random(int((~keep).sum())) < 0.5, -0.0, 0.0)
    if keep.any():
        w[np.unravel_index(np.flatnonzero(keep)[0], shape)] = np.nan
    return w


@pytest.mark.parametrize("fill", ["none", "all", 0.1, 0.5, 0.9])
@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (3, 5, 2, 7), (1, 257), (33, 1, 1, 1), (0, 5), (4, 0)])
def test_vectorised_csr_equals_scipy(shape, fill):
    from secateurs.exporters.csr_npz_codec import _csr_arrays

    w = _masked(shape, 3, fill)
    parts, nnz, neg_zeros = _csr_arrays("w", w)
    ref = scipy.sparse.csr_matrix(w.reshape(shape[0], int(np.prod(shape[1:]))))  # keeps NaN, drops +-0.0
    assert nnz == ref.nnz and neg_zeros == int((np.signbit(w) & (w == 0)).sum())
    assert parts["indices"].dtype == parts["indptr"].dtype == np.int32
    assert np.array_equal(parts["indptr"], ref.indptr) and np.array_equal(parts["indices"], ref.indices)
    assert same_bits(parts["data"], ref.data.astype(np.float32))


def test_values_are_stored_and_the_rest_deflated(tmp_path):
    import zipfile

    w = {"a": pruned((8, 4, 3, 3), 0.5, np.float32), "b": pruned((4, 6), 0.3, np.float64)}
    save_csr_npz(w, tmp_path / "1.npz")
    save_csr_npz(w, tmp_path / "2.npz")
    assert (tmp_path / "1.npz").read_bytes() == (tmp_path / "2.npz").read_bytes()
    with zipfile.ZipFile(tmp_path / "1.npz") as z:
        members = {i.filename: i for i in z.infolist()}
    assert set(members) == {"__meta__.npy"} | {
        f"{n}.{p}.npy" for n in w for p in ("data", "indices", "indptr")
    }
    for name, info in members.items():
        stored = name.endswith(".data.npy")
        assert info.compress_type == (zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED), name
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
    assert all(same_bits(load_csr_npz(tmp_path / "1.npz")[n], w[n]) for n in w)


def test_load_checked_is_both_loaders_in_one_read(tmp_path):
    from secateurs.exporters.csr_npz_codec import load_checked

    w = {"a": pruned((8, 4, 3, 3), 0.5, np.float32), "b": pruned((4, 6), 1.0, np.float64)}
    save_csr_npz(w, tmp_path / "w.npz")
    got = load_checked(tmp_path / "w.npz")
    assert list(got) == ["a", "b"] and all(same_bits(got[n], w[n]) for n in w)
    changes, message = MALFORMED["unsorted columns"]
    changes = {
        **changes,
        "w.indptr": np.array([0, 9, 18, 27, 36], np.int32),
        "w.data": np.ones(36, np.float32),
    }
    with pytest.raises(InputError, match=message):
        load_checked(_corrupt(tmp_path, **changes))
