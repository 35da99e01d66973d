"""Bad inputs to pack and unpack: each is an spz.BadInput naming the file, and nothing is written."""

from __future__ import annotations

import os
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import onnx
import pytest
import zstandard
from onnx import TensorProto, helper, numpy_helper

import secateurs.spz as spz
from secateurs.spz import index
from secateurs.spz.container import FOOTER, FOOTER_MAGIC


def _weights(sparsity: float, shape=(32, 16, 3, 3), seed: int = 0) -> np.ndarray:
    w = (np.random.default_rng(seed).standard_normal(shape) * 0.1).astype(np.float32)
    w[np.abs(w) < np.quantile(np.abs(w), sparsity)] = 0
    return w


def _model(path: Path, weights: list[np.ndarray], **save_kwargs) -> Path:
    inits = [numpy_helper.from_array(w, f"w{i}") for i, w in enumerate(weights)]
    graph = helper.make_graph([], "g", [], [], initializer=inits)
    onnx.save_model(helper.make_model(graph), path, **save_kwargs)
    return path


@pytest.fixture
def packed(tmp_path: Path) -> Path:
    """A container using the zeros, shuffle, bitmask-or-rice and rice encodings."""
    src = _model(tmp_path / "m.onnx", [_weights(s, seed=i) for i, s in enumerate((0.0, 0.5, 0.97, 1.0))])
    out = tmp_path / "m.onnx.spz"
    spz.pack(src, out)
    return out


def _refused(
    spz_path: Path, tmp_path: Path, match: str | None = None, kind=spz.CorruptContainer, **kwargs
) -> str:
    out = tmp_path / "restored" / "m.onnx"
    with pytest.raises(kind, match=match) as err:
        spz.unpack(spz_path, out, **kwargs)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{spz_path}: ")
    assert not (tmp_path / "restored").exists()  # no output, no temp file, no folder
    return message


def _rewrite(spz_path: Path, mutate, out: Path | None = None) -> Path:
    """Copy ``spz_path`` with its index passed through ``mutate(files)`` (crc kept valid)."""
    data = spz_path.read_bytes()
    offset, stored, decoded, _, _ = FOOTER.unpack_from(data, len(data) - FOOTER.size)
    files = index.parse(zstandard.ZstdDecompressor().decompress(data[offset : offset + stored]))
    extra = mutate(files) or b""
    raw = index.serialize(files)
    frame = zstandard.ZstdCompressor().compress(raw)
    tail = FOOTER.pack(offset + len(extra), len(frame), len(raw), zlib.crc32(frame), FOOTER_MAGIC)
    out = out or spz_path.with_name("bad.spz")
    out.write_bytes(data[:offset] + extra + frame + tail)
    return out


@pytest.mark.parametrize("keep", [0, 10, 16, 47, 0.5, -1])
def test_truncated(packed: Path, tmp_path: Path, keep) -> None:
    data = packed.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    bad = tmp_path / "cut.spz"
    bad.write_bytes(data[:cut])
    _refused(bad, tmp_path, "truncated|footer")


def test_wrong_magic_and_unknown_version(packed: Path, tmp_path: Path) -> None:
    data = bytearray(packed.read_bytes())
    bad = tmp_path / "bad.spz"
    bad.write_bytes(b"PK\x03\x04" + data[4:])
    _refused(bad, tmp_path, "wrong magic")
    for version in (1, 3):  # version 1 (framed stream refs, zstd magic) is not read either
        struct.pack_into("<H", data, 8, version)
        bad.write_bytes(data)
        _refused(bad, tmp_path, f"unsupported .spz version {version}", kind=spz.UnsupportedVersion)


def test_every_corrupted_byte_is_caught_or_harmless(packed: Path, tmp_path: Path) -> None:
    """Flip bits all over the file: unpack either refuses or restores the exact original."""
    data = packed.read_bytes()
    original = (tmp_path / "m.onnx").read_bytes()
    bad = tmp_path / "flip.spz"
    for pos in range(0, len(data), max(1, len(data) // 400)):
        flipped = bytearray(data)
        flipped[pos] ^= 0x5A
        bad.write_bytes(flipped)
        out = tmp_path / "restored" / "m.onnx"
        try:
            spz.unpack(bad, out)
        except spz.BadInput as e:
            assert "\n" not in str(e) and not out.exists(), pos
        else:
            assert out.read_bytes() == original, pos  # e.g. the reserved header bytes
            out.unlink()
            out.parent.rmdir()


def test_corrupt_payload_fails_its_crc(packed: Path, tmp_path: Path) -> None:
    def corrupt_crc(files):
        files[0].tensors[-1].crc32 ^= 1

    _refused(_rewrite(packed, corrupt_crc), tmp_path, "crc32")


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda fs: setattr(fs[0], "size", fs[0].size + 1), "declared size"),
        (
            lambda fs: setattr(fs[0].tensors[0], "length", fs[0].tensors[0].length + 4),
            "declared size|streams|expected",
        ),
        (lambda fs: setattr(fs[0].tensors[1], "nnz", fs[0].tensors[1].nnz + 1), "expected|declares"),
        (lambda fs: _first_zstd(fs).__setattr__("decoded", _first_zstd(fs).decoded - 1), None),
        (lambda fs: setattr(fs[0].tensors[0], "esize", 3), "element size"),
        (lambda fs: setattr(fs[0].tensors[0], "encoding", 42), "unknown encoding id 42"),
        (lambda fs: setattr(fs[0].tensors[0].streams[0], "offset", 10**9), "outside the data region"),
        (lambda fs: setattr(fs[0].tensors[1], "skeleton_offset", 0), "out of order"),
        (lambda fs: setattr(fs[0], "path", "x.onnx"), "does not start with the model"),
    ],
)
def test_declared_sizes_that_do_not_match(packed: Path, tmp_path: Path, mutate, match: str) -> None:
    _refused(_rewrite(packed, mutate), tmp_path, match)


def _first_zstd(files) -> index.StreamRef:
    return next(s for t in files[0].tensors for s in t.streams if s.codec == 1)


def _bomb_frame(size: int) -> bytes:
    """A magicless zstd frame (as .spz streams are stored) of ``size`` zero bytes."""
    cctx = zstandard.ZstdCompressor(level=1)
    chunk = bytes(1 << 20)
    with_size = cctx.compressobj(size=size)
    parts = [with_size.compress(chunk) for _ in range(size >> 20)]
    return (b"".join(parts) + with_size.flush())[4:]


def test_stream_that_expands_beyond_its_declared_size(packed: Path, tmp_path: Path) -> None:
    frame = _bomb_frame(256 << 20)  # 256 MiB of zeros in a few KiB

    def swap(files):
        t = files[0].tensors[0]
        offset = FOOTER.unpack_from(packed.read_bytes(), packed.stat().st_size - FOOTER.size)[0]
        t.streams[0].codec, t.streams[0].offset, t.streams[0].stored = 1, offset, len(frame)
        return frame

    bad = _rewrite(packed, swap)
    tracemalloc.start()
    try:
        _refused(bad, tmp_path, "zstd frame declares 268435456 bytes")
        assert tracemalloc.get_traced_memory()[1] < 32 << 20
    finally:
        tracemalloc.stop()


def test_absurd_declared_sizes_are_refused_before_allocating(packed: Path, tmp_path: Path) -> None:
    def huge(files):
        files[0].size += 1 << 45
        files[0].tensors.append(
            index.TensorRecord("bomb", 1, (), files[0].skeleton.decoded, 1 << 45, 4, 1, 0, 0)
        )

    tracemalloc.start()
    try:
        _refused(_rewrite(packed, huge), tmp_path, "over the .*-byte cap")
        assert tracemalloc.get_traced_memory()[1] < 32 << 20
    finally:
        tracemalloc.stop()

    def ratio(files):
        _first_zstd(files).decoded = _first_zstd(files).stored * 40000

    _refused(_rewrite(packed, ratio), tmp_path, "32768:1|more than")
    _refused(packed, tmp_path, "cap", max_output_bytes=1000)  # the cap is configurable


def test_zstd_frame_without_content_size(packed: Path, tmp_path: Path) -> None:
    blind = zstandard.ZstdCompressor(write_content_size=False).compress(bytes(4000))[4:]

    def swap(files):
        t = files[0].tensors[0]
        offset = FOOTER.unpack_from(packed.read_bytes(), packed.stat().st_size - FOOTER.size)[0]
        t.streams[0].codec, t.streams[0].offset, t.streams[0].stored = 1, offset, len(blind)
        return blind

    _refused(_rewrite(packed, swap), tmp_path, "no content size|declares")


@pytest.mark.parametrize("path", ["../evil.bin", "/tmp/evil.bin", "sub/../../evil.bin", ""])
def test_container_paths_cannot_escape(packed: Path, tmp_path: Path, path: str) -> None:
    def add(files):
        empty = index.StreamRef(0, 16, 0, 0)
        files.append(index.FileEntry(path, 0, 0, empty))

    _refused(_rewrite(packed, add), tmp_path, "location|model file|listed")
    assert not (tmp_path / "evil.bin").exists()


@pytest.mark.parametrize(
    "content, match",
    [
        (os.urandom(4096), "not an ONNX model"),
        (b"", "empty file"),
        (b"name,value\nconv1,0.5\n" * 50, "not an ONNX model"),
        (b"\x08\x07", "no graph"),
    ],
    ids=["random", "empty", "text", "header-only"],
)
def test_pack_refuses_non_onnx(tmp_path: Path, content: bytes, match: str) -> None:
    src = tmp_path / "model.onnx"
    src.write_bytes(content)
    out = tmp_path / "out" / "model.onnx.spz"
    with pytest.raises(spz.InvalidModel, match=match) as err:
        spz.pack(src, out)
    assert str(err.value).startswith(f"{src}: ") and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()


def test_pack_refuses_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(spz.UnreadableInput, match="not found"):
        spz.pack(tmp_path / "nope.onnx", tmp_path / "x.spz")
    with pytest.raises(spz.UnreadableInput, match="directory"):
        spz.pack(tmp_path, tmp_path / "x.spz")
    assert not (tmp_path / "x.spz").exists()


def _external_model(folder: Path, location: str) -> Path:
    """A model whose one tensor claims its bytes are in ``location``."""
    tensor = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[256])
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "1024")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph([], "g", [], [], initializer=[tensor])
    path = folder / "m.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    return path


@pytest.mark.parametrize("where", ["parent", "absolute", "symlink", "missing", "short"])
def test_external_data_outside_the_folder_or_broken(tmp_path: Path, where: str) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    outside = tmp_path / "secret.bin"
    outside.write_bytes(bytes(1024))
    location = {
        "parent": "../secret.bin",
        "absolute": str(outside),
        "symlink": "link.bin",
        "missing": "gone.bin",
        "short": "short.bin",
    }[where]
    if where == "symlink":
        (folder / "link.bin").symlink_to(outside)
    if where == "short":
        (folder / "short.bin").write_bytes(bytes(100))
    src = _external_model(folder, location)
    out = folder / "m.onnx.spz"
    match = {"missing": "not found", "short": "needs bytes 0..1024"}.get(where, "outside|absolute|leaves")
    with pytest.raises(spz.BadInput, match=match) as err:
        spz.pack(src, out)
    assert "\n" not in str(err.value) and str(err.value).split(":")[0] in (str(src), str(folder / location))
    assert not out.exists() and sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp")) == []


def test_output_may_not_overwrite_the_input(packed: Path, tmp_path: Path) -> None:
    src = tmp_path / "m.onnx"
    before = src.read_bytes()
    with pytest.raises(spz.InvalidArgument, match="overwrite the input"):
        spz.pack(src, src)
    with pytest.raises(spz.InvalidArgument, match="overwrite the .spz"):
        spz.unpack(packed, packed)
    assert src.read_bytes() == before
