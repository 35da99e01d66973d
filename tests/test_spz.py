"""Round trips through real .onnx files: unpack must reproduce every byte (equal sha256)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import pytest
import zstandard
from onnx import TensorProto, helper, numpy_helper

import secateurs.spz as spz

SHAPES = [(16, 8, 3, 3), (1000,), (33, 7)]
SPARSITIES = [0.0, 0.3, 0.9, 0.99, 1.0]
DTYPES = [np.float32, np.float16, np.int8, np.float64]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pruned(shape: tuple[int, ...], sparsity: float, dtype, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        w = rng.integers(-128, 128, shape).astype(dtype)
    else:
        w = (rng.standard_normal(shape) * 0.05).astype(dtype)
    flat = w.reshape(-1)
    k = int(round(sparsity * flat.size))
    if k:
        flat[np.argsort(np.abs(flat.astype(np.float64)), kind="stable")[:k]] = 0
    if np.issubdtype(dtype, np.floating) and sparsity < 1.0:
        flat[:3] = [-0.0, np.nan, -np.inf]  # odd bit patterns must survive too
    return w


def save(path: Path, initializers: list[np.ndarray], nodes=(), **save_kwargs) -> Path:
    inits = [numpy_helper.from_array(w, f"w{i}") for i, w in enumerate(initializers)]
    out = helper.make_tensor_value_info("w0", TensorProto.FLOAT, None)
    graph = helper.make_graph(list(nodes), "g", [], [out], initializer=inits)
    onnx.save_model(helper.make_model(graph), path, **save_kwargs)
    return path


def round_trip(src: Path, tmp: Path, **pack_kwargs) -> tuple[Path, spz.PackStats]:
    packed = tmp / "out" / (src.name + ".spz")
    packed.parent.mkdir(exist_ok=True)
    stats = spz.pack(src, packed, **pack_kwargs)
    back = tmp / "back" / src.name
    assert spz.unpack(packed, back) == back
    assert sha256(back) == sha256(src)
    assert stats.output_bytes == packed.stat().st_size
    return back, stats


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("sparsity", SPARSITIES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_round_trip_shape_sparsity_dtype(tmp_path: Path, shape, sparsity: float, dtype) -> None:
    w = pruned(shape, sparsity, dtype)
    src = save(tmp_path / "m.onnx", [w, pruned((5,), 0.0, np.float32, seed=1)])
    back, stats = round_trip(src, tmp_path)
    assert stats.tensors == 2
    info = {i.name: i for i in spz.inspect(tmp_path / "out" / "m.onnx.spz")}
    assert info["w0"].shape == shape and info["w0"].dtype == np.dtype(dtype).name
    all_zero_bytes = w.reshape(-1).view(f"u{w.itemsize}") == 0  # -0.0 is not zero
    assert info["w0"].sparsity == pytest.approx(float(np.mean(all_zero_bytes)), abs=1e-12)
    assert np.array_equal(numpy_helper.to_array(onnx.load(back).graph.initializer[0]), w, equal_nan=True)


def test_sparse_tensors_are_cut_out_and_shrink(tmp_path: Path) -> None:
    weights = [pruned((64, 64, 3, 3), s, np.float32, seed=i) for i, s in enumerate((0.5, 0.9, 0.99, 1.0))]
    src = save(tmp_path / "m.onnx", weights)
    _, stats = round_trip(src, tmp_path)
    assert stats.encodings.get("inline", 0) == 0
    assert stats.output_bytes < 0.25 * src.stat().st_size
    used = {i.name: i.encoding for i in spz.inspect(tmp_path / "out" / "m.onnx.spz")}
    assert used["w3"] == "zeros" and used["w2"] == "rice"


def test_inspect_onnx_lists_every_encoding_size(tmp_path: Path) -> None:
    src = save(tmp_path / "m.onnx", [pruned((32, 32, 3, 3), 0.9, np.float32)])
    (info,) = spz.inspect(src)
    assert info.encoding == "rice"
    assert set(info.sizes) == {"inline", "raw", "shuffle", "bitmask", "rice"}
    assert info.sizes["rice"] == min(info.sizes.values())
    assert info.nbytes == 32 * 32 * 9 * 4


def test_torch_exported_conv_net(tmp_path: Path) -> None:
    import torch

    from tests import models

    net = models.plain()
    with torch.no_grad():
        for p in net.parameters():
            if p.dim() == 4:
                p[p.abs() < p.abs().flatten().kthvalue(int(0.8 * p.numel())).values] = 0
    src = tmp_path / "net.onnx"
    torch.onnx.export(net, torch.zeros(net.input_shape), src, dynamo=False)
    round_trip(src, tmp_path)
    assert [i.encoding for i in spz.inspect(tmp_path / "out" / "net.onnx.spz")].count("inline") < 4


@pytest.mark.parametrize("one_file", [True, False])
def test_external_data_round_trip(tmp_path: Path, one_file: bool) -> None:
    weights = [pruned((32, 16, 3, 3), s, np.float32, seed=i) for i, s in enumerate((0.0, 0.5, 0.95))]
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    src = save(
        src_dir / "m.onnx",
        weights,
        save_as_external_data=True,
        all_tensors_to_one_file=one_file,
        location="m.onnx.data",
        size_threshold=0,
    )
    data_files = sorted(p for p in src_dir.iterdir() if p.name != "m.onnx")
    assert data_files
    back, stats = round_trip(src, tmp_path)
    assert stats.input_bytes == sum(p.stat().st_size for p in src_dir.iterdir())
    for p in data_files:
        assert sha256(back.parent / p.name) == sha256(p)
    loaded = onnx.load(back)  # reads the restored external data
    assert np.array_equal(numpy_helper.to_array(loaded.graph.initializer[2]), weights[2], equal_nan=True)
    files = {i.file for i in spz.inspect(tmp_path / "out" / "m.onnx.spz")}
    assert files == {p.name for p in data_files}


def test_constant_nodes_and_subgraphs(tmp_path: Path) -> None:
    big = pruned((64, 64, 3), 0.9, np.float32, seed=1)
    inner = pruned((40, 40), 0.95, np.float32, seed=2)
    const = helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(big, "c_value"))
    branch = helper.make_graph(
        [helper.make_node("Constant", [], ["b"], value=numpy_helper.from_array(inner, "b_value"))],
        "then",
        [],
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, None)],
    )
    cond = helper.make_node("Constant", [], ["cond"], value=numpy_helper.from_array(np.array(True), "t"))
    if_node = helper.make_node("If", ["cond"], ["y"], then_branch=branch, else_branch=branch)
    src = save(tmp_path / "m.onnx", [pruned((8,), 0.0, np.float32)], nodes=[const, cond, if_node])
    round_trip(src, tmp_path)
    used = {i.name: i.encoding for i in spz.inspect(tmp_path / "out" / "m.onnx.spz")}
    assert used["c_value"] != "inline" and used["b_value"] != "inline"
    # the If node carries the branch twice: both copies are found
    assert [i.name for i in spz.inspect(src)].count("b_value") == 2


def test_other_dtypes_and_odd_payloads(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    tensors = []
    for code, dtype, n in [
        (16, np.uint16, 4000),
        (7, np.int64, 3000),
        (9, np.uint8, 5000),
        (14, np.uint64, 2000),
    ]:
        raw = rng.integers(0, 2**16, n).astype(dtype) * (rng.random(n) < 0.2)
        tensors.append(helper.make_tensor(f"t{code}", code, [n], raw.tobytes(), raw=True))
    # uint4 packs two values per byte; a float tensor whose bytes do not divide by 4
    tensors.append(
        helper.make_tensor("u4", 21, [6000], rng.integers(0, 256, 3000).astype(np.uint8).tobytes(), raw=True)
    )
    odd = TensorProto(
        name="odd", data_type=TensorProto.FLOAT, dims=[3], raw_data=bytes(rng.integers(0, 3, 4001, np.uint8))
    )
    # float_data/double_data (not raw_data) are packed fixed-width fields: cut out as well
    floats = helper.make_tensor(
        "fd", TensorProto.FLOAT, [2000], (rng.random(2000) < 0.1).astype(np.float32) * 1.5
    )
    graph = helper.make_graph([], "g", [], [], initializer=[*tensors, odd, floats])
    src = tmp_path / "m.onnx"
    src.write_bytes(helper.make_model(graph).SerializeToString())
    round_trip(src, tmp_path)
    info = {i.name: i for i in spz.inspect(src)}
    assert info["t16"].dtype == "bfloat16" and info["odd"].nbytes == 4001 and info["fd"].nbytes == 8000


def test_level_is_validated(tmp_path: Path) -> None:
    src = save(tmp_path / "m.onnx", [pruned((10,), 0.0, np.float32)])
    with pytest.raises(spz.InvalidArgument, match="zstd level"):
        spz.pack(src, tmp_path / "m.spz", level=0)
    round_trip(src, tmp_path, level=19)


def _dense_models(tmp_path: Path):
    rng = np.random.default_rng(11)
    yield save(
        tmp_path / "gauss.onnx", [rng.standard_normal((128, 64, 3, 3)).astype(np.float32) for _ in range(3)]
    )
    yield save(tmp_path / "half.onnx", [rng.standard_normal((256, 256)).astype(np.float16)])
    yield save(tmp_path / "int8.onnx", [rng.integers(-128, 128, (300, 300)).astype(np.int8)])
    tile = np.tile(rng.standard_normal(1000).astype(np.float32), 64)
    yield save(tmp_path / "tiled.onnx", [tile, np.arange(20000, dtype=np.float32)])
    yield save(tmp_path / "tiny.onnx", [rng.standard_normal(n).astype(np.float32) + 1 for n in range(1, 60)])


@pytest.mark.parametrize("level", [3, 9])
def test_no_sparsity_is_no_larger_than_zstd_of_the_file(tmp_path: Path, level: int) -> None:
    for src in _dense_models(tmp_path):
        raw = src.read_bytes()
        _, stats = round_trip(src, tmp_path, level=level)
        bound = min(len(zstandard.ZstdCompressor(level=lv).compress(raw)) for lv in (3, level))
        assert stats.output_bytes <= bound + 160, src.name


def test_channel_pruned_mask_uses_the_compressed_bitmask(tmp_path: Path) -> None:
    w = pruned((64, 32, 3, 3), 0.0, np.float32, seed=4)
    w[::2] = 0  # every other output channel pruned: the mask is long runs
    src = save(tmp_path / "m.onnx", [w])
    _, stats = round_trip(src, tmp_path)
    (info,) = spz.inspect(tmp_path / "out" / "m.onnx.spz")
    assert info.encoding == "bitmask"
    assert info.sizes["bitmask"] < 0.5 * w.nbytes * 0.9
