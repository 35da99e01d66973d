"""Building blocks of the .spz container: each encoder is an exact inverse of its decoder."""

from __future__ import annotations

import numpy as np
import pytest

from secateurs.spz import InvalidArgument, bitcode, codecs, planes, safe_relative, streams, wire
from secateurs.spz.choose import Analysis
from secateurs.spz.wire import WireError, scan_model


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**32, 2**63, 2**64 - 1])
def test_varint_round_trip(value: int) -> None:
    out = bytearray()
    wire.write_varint(out, value)
    assert wire.read_varint(bytes(out), 0, len(out)) == (value, len(out))


def test_varint_rejects_truncated_and_overlong() -> None:
    with pytest.raises(ValueError, match="truncated"):
        wire.read_varint(b"\x80\x80", 0, 2)
    with pytest.raises(ValueError, match="longer than"):
        wire.read_varint(b"\xff" * 11 + b"\x01", 0, 12)
    assert [wire.unzigzag(wire.zigzag(v)) for v in (0, -1, 5, -(2**63))] == [0, -1, 5, -(2**63)]


@pytest.mark.parametrize("bits", [0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 24, 32, 40])
@pytest.mark.parametrize("count", [0, 1, 7, 8, 9, 1001])
def test_bitpack_round_trip(bits: int, count: int) -> None:
    rng = np.random.default_rng(bits * 1000 + count)
    values = rng.integers(0, 1 << bits, count, dtype=np.uint64) if bits else np.zeros(count, np.uint64)
    packed = bitcode.pack(values, bits)
    assert packed.size == bitcode.packed_size(count, bits)
    # the reference: every value's low `bits` bits, most significant first
    matrix = np.unpackbits(values.astype(">u8").view(np.uint8).reshape(-1, 8), axis=1)[:, 64 - bits :]
    assert np.array_equal(packed, np.packbits(matrix) if count and bits else packed[:0])
    assert np.array_equal(bitcode.unpack(packed.tobytes(), count, bits).astype(np.uint64), values)


@pytest.mark.parametrize("density", [0.0, 0.0001, 0.01, 0.1, 0.3, 0.5])
def test_rice_gaps_round_trip_and_near_entropy(density: float) -> None:
    """Rice codes the rarer kind of element, so densities up to 0.5 cover every case."""
    rng = np.random.default_rng(7)
    n = 200_000
    positions = np.flatnonzero(rng.random(n) < density)
    gaps = bitcode.gaps_of(positions)
    k = bitcode.best_k(gaps)
    assert k == min(range(25), key=lambda j: bitcode.cost_bits(gaps, j))
    q, r = bitcode.rice_encode(gaps, k)
    assert np.array_equal(bitcode.rice_decode(q, r, positions.size, k, n), positions)
    if 0 < density < 1:
        p = positions.size / n
        entropy_bits = n * -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
        assert (len(q) + len(r)) * 8 <= 1.02 * entropy_bits + 16


def test_rice_decode_rejects_positions_past_the_end() -> None:
    q, r = bitcode.rice_encode(bitcode.gaps_of(np.array([3, 90])), 2)
    with pytest.raises(ValueError, match="past"):
        bitcode.rice_decode(q, r, 2, 2, 50)
    with pytest.raises(ValueError, match="codes"):
        bitcode.rice_decode(q, r, 3, 2, 100)


@pytest.mark.parametrize(
    "make",
    [
        lambda rng: rng.integers(0, 256, 5000).astype(np.uint8),  # bytes
        lambda rng: rng.integers(60, 63, 5000).astype(np.uint8),  # range palette
        lambda rng: rng.choice(np.array([3, 77, 200], np.uint8), 5000),  # sparse palette
        lambda rng: (rng.integers(60, 62, 5000) | (rng.integers(0, 2, 5000) << 7)).astype(np.uint8),  # split
        lambda rng: np.full(5000, 9, np.uint8),  # one value
        lambda rng: rng.integers(0, 256, 10).astype(np.uint8),  # tiny
    ],
)
def test_plane_modes_round_trip(make) -> None:
    plane = make(np.random.default_rng(3))
    mode, coded = planes.encode(plane)
    data = [streams.unpack(s.codec, bytes(s.data), s.decoded) for s in coded]
    assert len(data) == planes.N_STREAMS[mode]
    for (lo, hi), d in zip(planes.lengths(mode, plane.size), data):
        assert lo <= len(d) <= hi
    assert np.array_equal(planes.decode(mode, data, plane.size), plane)


def test_sign_and_exponent_plane_is_split() -> None:
    rng = np.random.default_rng(0)
    values = (rng.standard_normal(50_000) * 0.02).astype(np.float32)
    top = np.ascontiguousarray(values.view(np.uint8).reshape(-1, 4)[:, 3])
    mode, _ = planes.encode(top)
    assert mode == planes.SPLIT


@pytest.mark.parametrize("name", ["zeros", "raw", "shuffle", "bitmask", "rice"])
@pytest.mark.parametrize("esize", [1, 2, 4, 8, 16])
def test_codecs_are_exact_inverses(name: str, esize: int) -> None:
    rng = np.random.default_rng(esize)
    n = 3001
    data = rng.integers(0, 256, n * esize).astype(np.uint8)
    elements = data.reshape(n, esize)
    elements[rng.random(n) < (1.0 if name == "zeros" else 0.7)] = 0
    elements[5, -1] = 0x80  # a lone sign bit (-0.0 for floats) is a nonzero element
    if name == "zeros":
        elements[5, -1] = 0
    an = Analysis(data.tobytes(), esize, 3)
    codec = codecs.get(name)
    encoded = codec.encode(an)
    streams_data = [streams.unpack(s.codec, bytes(s.data), s.decoded) for s in encoded.streams]
    expected = codec.lengths(n, esize, an.nnz, encoded.params)
    assert len(expected) == len(streams_data)
    assert all(lo <= len(d) <= hi for (lo, hi), d in zip(expected, streams_data))
    out = codec.decode(streams_data, n, esize, an.nnz, encoded.params)
    assert out.tobytes() == data.tobytes()


def test_unknown_codec_lists_registered() -> None:
    with pytest.raises(InvalidArgument, match="choose from: zeros, raw, shuffle, bitmask, rice"):
        codecs.get("lz4")
    with pytest.raises(ValueError, match="unknown encoding id 99"):
        codecs.by_id(99)


def test_zstd_stream_checks_declared_size() -> None:
    s = streams.pack(np.zeros(100_000, np.uint8))
    assert s.codec == streams.ZSTD
    with pytest.raises(ValueError, match="declares 100000 bytes, the index 1000"):
        streams.unpack(s.codec, s.data, 1000)
    with pytest.raises(ValueError, match="32768:1"):
        streams.unpack(s.codec, s.data, 2**40)


@pytest.mark.parametrize("location", ["../x.bin", "/etc/passwd", "a/../../x", "C:\\x", "..\\x", "", "."])
def test_unsafe_locations_are_refused(location: str) -> None:
    with pytest.raises(ValueError):
        safe_relative(location)


def test_safe_location_is_normalized() -> None:
    assert safe_relative("./w//x.bin").as_posix() == "w/x.bin"


@pytest.mark.parametrize("blob", [b"", b"hello world\n", bytes(range(256)), b"\x08\x07"])
def test_wire_scan_rejects_non_models(blob: bytes) -> None:
    with pytest.raises(WireError):
        scan_model(blob)
