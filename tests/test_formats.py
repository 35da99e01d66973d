"""The format registry: every format declares what it is, and its decoder inverts its encoder."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest

from secateurs import exporters
from secateurs.config import DEFAULT_FORMATS
from secateurs.errors import UsageError
from secateurs.exporters import AGAINST_ONNX, AGAINST_WEIGHTS, Format
from tests.sparse_helpers import identity_model, pruned, same_bits

FORMATS = exporters.formats()


def _sparse_onnx(weights, path):
    from secateurs.exporters.sparse_onnx_codec import to_sparse_initializers

    onnx.save(to_sparse_initializers(identity_model(weights), list(weights))[0], str(path))


def _bitmask_onnx(weights, path):
    from secateurs.exporters.bitmask_onnx_codec import to_bitmask_initializers

    onnx.save(to_bitmask_initializers(identity_model(weights), list(weights))[0], str(path))


def _npz(weights, path):
    from secateurs.exporters.csr_npz_codec import save_csr_npz

    save_csr_npz(weights, path)


# Every format with a decoder, and how the test encodes into it; test_every_decoder_is_tested keeps it whole.
ENCODERS = {"sparse-onnx": _sparse_onnx, "bitmask-onnx": _bitmask_onnx, "npz": _npz}


def test_default_formats_are_the_registered_ones_in_order_but_bitmask_onnx():
    assert exporters.names() == ("onnx", "safetensors", "sparse-onnx", "bitmask-onnx", "spz", "npz")
    assert DEFAULT_FORMATS == ("onnx", "safetensors", "sparse-onnx", "spz", "npz")


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_every_format_declares_what_it_is(fmt):
    for attr in ("name", "filename", "description", "accepted_by"):
        assert isinstance(getattr(fmt, attr), str) and getattr(fmt, attr), attr
    assert isinstance(fmt.position, int) and isinstance(fmt.runtimes, tuple)
    assert fmt.size_reference in (None, AGAINST_ONNX, AGAINST_WEIGHTS)
    assert exporters.get(fmt.name).filename == fmt.filename
    assert exporters.for_file(fmt.filename).name == fmt.name
    assert exporters.for_file(f"sub/{fmt.filename}").name == fmt.name


def test_names_filenames_and_positions_are_unique():
    for attr in ("name", "filename", "position"):
        values = [getattr(f, attr) for f in FORMATS]
        assert len(set(values)) == len(values), attr


def test_only_model_onnx_is_the_source_of_derived_formats():
    assert not exporters.get(exporters.DENSE_ONNX).derives_from_onnx
    assert {f.name for f in FORMATS if f.derives_from_onnx} == {"sparse-onnx", "bitmask-onnx", "spz"}


def test_unknown_names_and_files():
    with pytest.raises(UsageError) as e:
        exporters.get("bogus")
    assert "unknown format 'bogus'; choose from: " + ", ".join(exporters.names()) in str(e.value)
    assert exporters.for_file("model2.onnx") is None and exporters.for_file("model.onnx.data") is None


def test_register_rejects_an_incomplete_or_clashing_format():
    class Incomplete(Format):
        name, filename, description, accepted_by = "x", "x.bin", "x", "x"

    with pytest.raises(TypeError, match="does not declare position"):
        exporters.register(Incomplete)

    class Clash(Format):
        name, filename, description, accepted_by, position = "y", "model.onnx", "y", "y", 99

    with pytest.raises(ValueError, match="share filename 'model.onnx'"):
        exporters.register(Clash)
    assert "x" not in exporters.names() and "y" not in exporters.names()


def test_the_registry_stays_light():
    """--help and verify load every format module: none may pull numpy, onnx or torch in."""
    code = (
        "import sys; from secateurs import exporters; exporters.formats(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'numpy', 'onnx', 'onnxruntime', 'torch', 'scipy', 'safetensors', 'zstandard'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_decoder_is_tested():
    decoders = {f.name for f in FORMATS if type(f).decode is not Format.decode}
    assert decoders == set(ENCODERS)


@pytest.mark.parametrize("name", sorted(ENCODERS))
@pytest.mark.parametrize("shape", [(8, 4, 3, 3), (3, 5, 2, 7)])
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.95, 1.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_decode_inverts_encode_through_a_file(tmp_path, name, shape, sparsity, dtype):
    fmt = exporters.get(name)
    weights = {"a.weight": pruned(shape, sparsity, dtype), "b.weight": pruned(shape, sparsity, dtype, seed=1)}
    path = tmp_path / fmt.filename
    ENCODERS[name](weights, path)
    decoded = fmt.decode(path)
    if sparsity >= 0.95 or name == "npz":  # smaller encoded everywhere (npz always encodes)
        assert set(decoded) == set(weights)
    assert decoded.keys() <= weights.keys()
    assert all(same_bits(arr, weights[n]) for n, arr in decoded.items())
