"""pack / unpack / inspect from the command line: exact round trip, clear errors, exit 3."""

import hashlib

import pytest
import torch

from tests import models


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def onnx_file(tmp_path):
    path = tmp_path / "foreign.onnx"  # exported here, not by secateurs: any ONNX file packs
    torch.onnx.export(models.residual(), (torch.zeros(1, 3, 8, 8),), str(path), dynamo=False)
    return path


def test_pack_unpack_round_trip(cli, tmp_path, onnx_file):
    result = cli("pack", onnx_file)
    assert result.exit_code == 0, result.output
    packed = tmp_path / "foreign.onnx.spz"
    assert packed.is_file() and packed.stat().st_size < onnx_file.stat().st_size
    result = cli("unpack", packed, "-o", "back.onnx")
    assert result.exit_code == 0, result.output
    assert sha(tmp_path / "back.onnx") == sha(onnx_file)


def test_inspect_lists_tensors(cli, onnx_file):
    result = cli("inspect", onnx_file)
    assert result.exit_code == 0
    assert "body.weight" in result.output and "sparsity" in result.output


@pytest.mark.parametrize("content", [b"", b"hello, not onnx", bytes(range(256)) * 4])
def test_pack_rejects_non_onnx(cli, tmp_path, content):
    (tmp_path / "x.onnx").write_bytes(content)
    result = cli("pack", "x.onnx")
    assert result.exit_code == 3, result.output
    assert "x.onnx" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "x.onnx.spz").exists()


def test_unpack_rejects_corrupt_and_keeps_previous_output(cli, tmp_path, onnx_file):
    cli("pack", onnx_file, "-o", "m.spz")
    (tmp_path / "out.onnx").write_text("previous")
    data = bytearray((tmp_path / "m.spz").read_bytes())
    (tmp_path / "trunc.spz").write_bytes(bytes(data[: len(data) // 2]))
    data[:4] = b"XXXX"
    (tmp_path / "magic.spz").write_bytes(bytes(data))
    for bad in ("trunc.spz", "magic.spz"):
        result = cli("unpack", bad, "-o", "out.onnx", "--force")
        assert result.exit_code == 3, result.output
        assert bad in result.stderr
        assert (tmp_path / "out.onnx").read_text() == "previous"


def test_unpack_needs_an_output_name(cli, tmp_path, onnx_file):
    cli("pack", onnx_file, "-o", "m.bin")
    result = cli("unpack", "m.bin")
    assert result.exit_code == 2 and "-o" in result.stderr


def test_pack_refuses_to_overwrite_input(cli, onnx_file):
    result = cli("pack", onnx_file, "-o", onnx_file)
    assert result.exit_code == 2 and "overwrite the input" in result.stderr


@pytest.mark.parametrize("command", ["pack", "unpack"])
def test_existing_output_is_refused_without_force(cli, tmp_path, onnx_file, command):
    """As gzip and zstd: an existing output is a usage error (exit 2) naming --force, untouched."""
    assert cli("pack", onnx_file, "-o", "m.spz").exit_code == 0
    source, target = (onnx_file, tmp_path / "m.spz") if command == "pack" else ("m.spz", tmp_path / "m.onnx")
    target.write_text("previous")
    result = cli(command, source, "-o", target)
    assert result.exit_code == 2, result.output
    assert str(target) in result.stderr and "--force" in result.stderr
    assert "Traceback" not in result.output
    assert target.read_text() == "previous"
    result = cli(command, source, "-o", target, "--force")
    assert result.exit_code == 0, result.output
    if command == "unpack":
        assert sha(target) == sha(onnx_file)
    else:
        assert target.read_bytes() == (tmp_path / "m.spz").read_bytes()  # the same container again


def test_unpack_refuses_an_existing_external_data_file(cli, tmp_path, onnx_file):
    import onnx

    (tmp_path / "ext").mkdir()
    model = onnx.load(str(onnx_file))
    onnx.save_model(
        model, str(tmp_path / "ext/m.onnx"), save_as_external_data=True, location="m.data", size_threshold=0
    )
    assert cli("pack", "ext/m.onnx", "-o", "m.spz").exit_code == 0
    (tmp_path / "out").mkdir()
    (tmp_path / "out/m.data").write_text("previous")
    result = cli("unpack", "m.spz", "-o", "out/m.onnx")
    assert result.exit_code == 2, result.output
    assert "m.data" in result.stderr and "--force" in result.stderr
    assert not (tmp_path / "out/m.onnx").exists()  # nothing is written when one target is refused
    assert (tmp_path / "out/m.data").read_text() == "previous"
    assert cli("unpack", "m.spz", "-o", "out/m.onnx", "--force").exit_code == 0
    assert sha(tmp_path / "out/m.data") == sha(tmp_path / "ext/m.data")


def test_unpack_write_failure_exits_5(cli, tmp_path, onnx_file):
    cli("pack", onnx_file, "-o", "m.spz")
    (tmp_path / "blocker").write_text("a file, not a folder")
    result = cli("unpack", "m.spz", "-o", "blocker/sub/out.onnx")
    assert result.exit_code == 5, result.output
    assert "blocker" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize(
    "raised, exit_code",
    [("UnreadableInput", 3), ("InvalidModel", 3), ("CorruptContainer", 3), ("UnsupportedVersion", 3)]
    + [("WriteFailed", 5), ("InvalidArgument", 2)],
)
def test_spz_errors_map_to_exit_codes(raised, exit_code):
    """spz raises its own errors; the exporter's adapter gives each the CLI's exit code, same message."""
    from secateurs import spz
    from secateurs.errors import SecateursError
    from secateurs.exporters.spz_container import spz_errors

    with pytest.raises(SecateursError, match="^x.spz: boom$") as err:
        with spz_errors():
            raise getattr(spz, raised)("x.spz: boom")
    assert err.value.exit_code == exit_code and type(err.value.__cause__).__name__ == raised
