"""Real users' model files: every supported format loads, every unsafe one is refused."""

import json
import zipfile

import pytest
import torch
from safetensors.torch import save_file

from tests import models
from tests.models import TORCHSCRIPT


def report_of(path):
    return json.loads((path / "report.json").read_text())


def random_state():
    return {k: torch.randn_like(v) for k, v in models.plain().state_dict().items()}


@pytest.mark.parametrize(
    ("wrap", "note"),
    [
        (lambda sd: {"state_dict": sd, "epoch": 3}, "under key 'state_dict'"),
        (lambda sd: {"model_state_dict": sd, "optimizer": {"lr": torch.tensor(0.1)}}, "'model_state_dict'"),
        (lambda sd: {"model": sd}, "under key 'model'"),
        (lambda sd: {f"module.{k}": v for k, v in sd.items()}, "'module.'"),
        (lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}}, "'module.'"),
    ],
)
def test_checkpoint_wrappers_are_unwrapped_and_reported(cli, tmp_path, wrap, note):
    torch.save(wrap(random_state()), tmp_path / "ckpt.pth")
    result = cli("run", "tests.models:plain", "--weights", "ckpt.pth", *TORCHSCRIPT, "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    assert any(note in n for n in report_of(tmp_path / "o")["model"]["notes"])


def test_format_is_detected_by_content_not_extension(cli, tmp_path):
    save_file(random_state(), tmp_path / "really_safetensors.pt")
    args = ("tests.models:plain", "--weights", "really_safetensors.pt", *TORCHSCRIPT)
    assert cli("run", *args, "--out", "o", "-q").exit_code == 0
    onnx_path = tmp_path / "m.onnx"
    torch.onnx.export(models.plain(), (torch.zeros(1, 3, 12, 12),), str(onnx_path), dynamo=False)
    onnx_path.rename(tmp_path / "model.pt")
    result = cli("run", "tests.models:plain", "--weights", "model.pt", "--out", "o2")
    assert result.exit_code == 3 and "ONNX" in result.stderr


def test_truncated_zip_checkpoint(cli, tmp_path):
    torch.save(random_state(), tmp_path / "full.pt")
    data = (tmp_path / "full.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    result = cli("run", "tests.models:plain", "--weights", "cut.pt", "--out", "o")
    assert result.exit_code == 3 and "cut.pt" in result.stderr
    assert not (tmp_path / "o").exists()


class Malicious:
    """Unpickling this opens (creates) a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("as_model", [False, True])
def test_malicious_pickle_never_runs(cli, tmp_path, as_model):
    marker = tmp_path / "PWNED"
    torch.save({"weight": torch.zeros(1), "payload": Malicious(marker)}, tmp_path / "evil.pt")
    args = (
        ["evil.pt", "--input-shape", "1,3,12,12"]
        if as_model
        else ["tests.models:plain", "--weights", "evil.pt"]
    )
    result = cli("run", *args, "--out", "o")
    assert result.exit_code == 3, result.output
    assert "open" in result.stderr  # names the unsafe global
    assert not marker.exists()
    assert not (tmp_path / "o").exists()


def test_exported_program_pt2(cli, tmp_path):
    batch = {0: torch.export.Dim("batch", min=1)}
    program = torch.export.export(models.residual(), (torch.randn(2, 3, 8, 8),), dynamic_shapes=(batch,))
    torch.export.save(program, str(tmp_path / "net.pt2"))
    result = cli("run", "net.pt2", "--exporter", "torchscript", "--out", "o")
    assert result.exit_code == 2 and "--exporter dynamo" in result.stderr
    result = cli("run", "net.pt2", "--amount", "0.5", "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    report = report_of(tmp_path / "o")
    assert report["model"]["source"] == "exported-program"
    assert {layer["name"] for layer in report["layers"]} == {"stem", "body", "down"}
    assert report["sparsity"]["pruned_tensors"]["sparsity"] == pytest.approx(0.5, abs=0.01)


def test_torchscript_needs_trust(cli, tmp_path):
    torch.jit.script(models.residual()).save(str(tmp_path / "ts.pt"))
    result = cli("run", "ts.pt", "--input-shape", "1,3,8,8", "--out", "o")
    assert result.exit_code == 3 and "--trust-model-code" in result.stderr
    assert not (tmp_path / "o").exists()
    result = cli(
        "run", "ts.pt", "--input-shape", "1,3,8,8", "--out", "o", "--exporter", "dynamo", "--trust-model-code"
    )
    assert result.exit_code == 2 and "--exporter torchscript" in result.stderr
    result = cli("run", "ts.pt", "--input-shape", "1,3,8,8", "--out", "o", "-q", "--trust-model-code")
    assert result.exit_code == 0, result.output
    report = report_of(tmp_path / "o")
    assert report["model"]["exporter"] == "torchscript"
    assert report["config"]["trust_model_code"] is True
    assert any("TRUSTED LOADING" in n for n in report["model"]["notes"])
    assert len(report["layers"]) == 3


@pytest.mark.parametrize("wrap", [lambda m: m, lambda m: {"model": m, "epoch": 7}])
def test_pickled_module_needs_trust(cli, tmp_path, wrap):
    torch.save(wrap(models.residual()), tmp_path / "full.pt")
    result = cli("run", "full.pt", "--input-shape", "1,3,8,8", "--out", "o")
    assert result.exit_code == 3
    assert "--trust-model-code" in result.stderr and "tests.models.Residual" in result.stderr
    args = ("full.pt", "--input-shape", "1,3,8,8", *TORCHSCRIPT)
    result = cli("run", *args, "--out", "o", "-q", "--trust-model-code")
    assert result.exit_code == 0, result.output
    assert any("TRUSTED LOADING" in n for n in report_of(tmp_path / "o")["model"]["notes"])


def test_state_dict_given_as_model_is_explained(cli, tmp_path):
    torch.save(random_state(), tmp_path / "sd.pt")
    result = cli("run", "sd.pt", "--out", "o")
    assert result.exit_code == 3 and "--weights" in result.stderr


@pytest.mark.parametrize("factory", ["already_pruned", "weight_normed", "tied"])
def test_prune_state_parametrizations_and_tied_weights(cli, tmp_path, factory):
    result = cli("run", f"tests.models:{factory}", "--amount", "0.5", *TORCHSCRIPT, "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    notes = " ".join(report_of(tmp_path / "o")["model"]["notes"])
    assert {"already_pruned": "prune mask", "weight_normed": "parametrization", "tied": "tied"}[
        factory
    ] in notes


def test_saved_prune_masks_in_state_dict_are_folded(cli, tmp_path):
    state = models.already_pruned().state_dict()
    assert "0.weight_orig" in state and "0.weight_mask" in state
    torch.save(state, tmp_path / "masked.pt")
    result = cli("run", "tests.models:plain", "--weights", "masked.pt", *TORCHSCRIPT, "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    assert any("folded torch prune masks" in n for n in report_of(tmp_path / "o")["model"]["notes"])


def test_wrong_architecture_weights(cli, tmp_path):
    torch.save(models.residual().state_dict(), tmp_path / "other.pt")
    result = cli("run", "tests.models:plain", "--weights", "other.pt", "--out", "o")
    assert result.exit_code == 3
    assert "missing" in result.stderr and "unexpected" in result.stderr


def test_no_conv_allowed_with_allow_noop(cli, tmp_path):
    assert cli("run", "tests.models:no_conv", "--out", "o").exit_code == 3
    result = cli("run", "tests.models:no_conv", "--allow-noop", *TORCHSCRIPT, "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    report = report_of(tmp_path / "o")
    assert report["layers"] == [] and report["status"] == "passed"


def test_dynamic_hw_validates_other_spatial_sizes(cli, tmp_path):
    result = cli("run", "tests.models:plain", "--dynamic-hw", *TORCHSCRIPT, "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    shapes = report_of(tmp_path / "o")["validation"]["shapes"]
    assert set(shapes) == {"1x3x12x12", "2x3x12x12", "1x3x24x24"}


def test_dynamic_hw_on_a_model_that_fixes_it(cli, tmp_path):
    result = cli("run", "tests.models:fixed_hw", "--dynamic-hw", "--out", "o")
    assert result.exit_code == 4, result.output
    assert "does not allow dynamic height/width" in result.stderr and "1x3x16x16" in result.stderr
    assert not (tmp_path / "o").exists()


def test_exporter_failure_is_exit_4(cli, tmp_path):
    result = cli("run", "tests.models:data_dependent", "--exporter", "dynamo", "--out", "o")
    assert result.exit_code == 4, result.output
    assert "dynamo exporter failed" in result.stderr
    assert not (tmp_path / "o").exists() and not list(tmp_path.glob("o.*"))


def test_forced_external_data_layout(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("SECATEURS_FORCE_EXTERNAL_DATA", "1")
    result = cli("run", "tests.models:residual", "--amount", "0.6", *TORCHSCRIPT, "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    out = tmp_path / "o"
    import onnx

    model = onnx.load(str(out / "model.onnx"), load_external_data=False)
    locations = {
        e.value
        for t in model.graph.initializer
        if t.data_location == onnx.TensorProto.EXTERNAL
        for e in t.external_data
        if e.key == "location"
    }
    assert locations == {"model.onnx.data"}
    listed = {f["path"] for f in json.loads((out / "manifest.json").read_text())["files"]}
    assert "model.onnx.data" in listed  # derived files get a .data file only if a tensor is >= 1 KiB
    report = report_of(out)
    assert report["status"] == "passed"
    assert any(
        c["name"] == "unpacks to model.onnx (sha256)" and "2 file" in c["detail"]
        for c in report["validation"]["checks"]
    )


def test_missing_file_as_model(cli):
    result = cli("run", "nowhere.pt2", "--out", "o")
    assert result.exit_code == 2 and "not a model spec" in result.stderr


def test_zip_that_is_not_a_checkpoint(cli, tmp_path):
    with zipfile.ZipFile(tmp_path / "x.pt", "w") as zf:
        zf.writestr("hello.txt", "hi")
    result = cli("run", "tests.models:plain", "--weights", "x.pt", "--out", "o")
    assert result.exit_code == 3 and "x.pt" in result.stderr


def test_dict_outputs_keep_their_names(cli, tmp_path):
    import onnx

    result = cli("run", "tests.models:dict_output", "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    assert [o.name for o in onnx.load(str(tmp_path / "o/model.onnx")).graph.output] == ["features", "logits"]


def test_model_that_fixes_its_batch_gets_a_hint(tmp_path):
    """Run as a real process: torch logs capture tracebacks to the real stderr, not click's."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "secateurs", "run", "tests.models:fixed_batch", "--out", "o"]
    proc = subprocess.run(
        cmd, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(repo)}, capture_output=True, text=True
    )
    assert proc.returncode == 4, proc.stderr
    assert "fixes its batch size" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("secateurs: error:")
