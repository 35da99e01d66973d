"""MODEL given as module:factory: imported from the current directory as `python -m` does,
`file.py:factory` answered with the spec that was meant, and a default --out per model."""

import os
import sys
from pathlib import Path

import pytest

from secateurs.commands.options import default_out

NET = """
import torch
from torch import nn


def build():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 3)).eval()
    model.input_shape = (1, 3, 10, 10)
    return model
"""


@pytest.fixture
def console_script_path(monkeypatch, tmp_path):
    """sys.path as a console script has it: without the current directory (pytest adds it)."""
    here = {"", os.getcwd(), str(tmp_path)}
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in here])
    return list(sys.path)


def _forget(name):
    sys.modules.pop(name, None)


def test_factory_module_in_the_current_directory_is_imported(cli, tmp_path, console_script_path):
    name = "h3_cwd_net"
    (tmp_path / f"{name}.py").write_text(NET)
    try:
        result = cli("run", f"{name}:build", "--formats", "onnx", "--exporter", "torchscript", "-q")
    finally:
        _forget(name)
    assert result.exit_code == 0, result.output
    assert (tmp_path / f"artifacts/{name}.build/manifest.json").is_file()
    assert sys.path == console_script_path  # the directory was on the path only for the import


def test_the_current_directory_does_not_stay_on_the_path_after_a_failed_import(cli, console_script_path):
    result = cli("run", "h3_no_such_module:build", "--out", "o")
    assert result.exit_code == 3 and "cannot import module 'h3_no_such_module'" in result.stderr
    assert sys.path == console_script_path


@pytest.mark.parametrize(
    ("spec", "hint"),
    [
        ("h3_file_net.py:build", "use h3_file_net:build"),
        ("models/h3_file_net.py:build", "use models.h3_file_net:build"),
        ("/abs/h3_file_net.py:build", "run from the folder holding h3_file_net.py and use h3_file_net:build"),
    ],
)
def test_a_file_path_spec_suggests_the_module_spec(cli, tmp_path, spec, hint):
    (tmp_path / "h3_file_net.py").write_text(NET)
    try:
        result = cli("run", spec, "--out", "o")
    finally:
        _forget("h3_file_net")
    assert result.exit_code == 2, result.output
    assert f"{spec}: a model spec names a module, not a file; {hint}" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("model", "out"),
    [
        ("builtin:resnet", "artifacts/resnet"),
        ("mymod:factory", "artifacts/mymod.factory"),
        ("torchvision.models:resnet18", "artifacts/torchvision.models.resnet18"),
        ("pkg.nets:Zoo.build", "artifacts/pkg.nets.Zoo.build"),
        ("checkpoints/best.pt2", "artifacts/best"),
    ],
)
def test_default_out(model, out):
    assert default_out(model) == Path(out)
    assert default_out(model, "-sweep") == Path(out + "-sweep")


def test_factories_sharing_a_name_get_their_own_default_out():
    assert default_out("detector:build") != default_out("classifier:build")


def test_a_model_file_whose_name_holds_a_colon_uses_its_stem(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("runs").mkdir()
    Path("runs/net:v2.pt2").write_bytes(b"")
    assert default_out("runs/net:v2.pt2") == Path("artifacts/net:v2")
