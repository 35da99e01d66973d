"""The command line: exit codes, one-line errors, staging and promotion."""

import json
import random

import pytest
import torch
from safetensors.torch import save_file

from secateurs import __version__
from tests import models
from tests.models import ARTIFACTS, TORCHSCRIPT


def manifest_of(path):
    return json.loads((path / "manifest.json").read_text())


def test_version(cli):
    result = cli("--version")
    assert result.exit_code == 0 and __version__ in result.output


@pytest.mark.parametrize(
    "command",
    ["run", "prune", "export", "validate", "report", "pack", "unpack", "inspect", "sweep", "sensitivity"],
)
def test_every_command_has_help_with_examples(cli, command):
    result = cli(command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output and "Exit codes" in result.output


def test_run_builtin_end_to_end(cli, tmp_path):
    result = cli("run", "builtin:lenet", "--amount", "0.5", "--out", "a/lenet")
    assert result.exit_code == 0, result.output
    out = tmp_path / "a/lenet"
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "passed"
    assert report["config"]["amount"] == 0.5
    assert "Per-layer sparsity" in result.stdout and "PASS" in result.stdout
    assert [p for p in tmp_path.joinpath("a").iterdir()] == [out]  # no staging left behind


def test_default_out_is_artifacts_module_and_factory_name(cli, tmp_path):
    assert cli("run", "tests.models:plain", "--exporter", "torchscript", "-q").exit_code == 0
    assert (tmp_path / "artifacts/tests.models.plain/manifest.json").is_file()


@pytest.mark.parametrize("amount", ["-0.1", "1.5", "nan", "inf", "-inf", "abc", ""])
def test_invalid_amount_is_usage_error_and_writes_nothing(cli, tmp_path, amount):
    result = cli("run", "tests.models:plain", "--amount", amount, "--out", "o")
    assert result.exit_code == 2
    assert "--amount" in result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("amount", ["0", "1", "1.0"])
def test_edge_amounts_are_valid(cli, amount):
    # builtin:resnet at 0 (torchscript) and 1 (the default exporter): test_sparse_artifacts.py
    result = cli(
        "run", "tests.models:plain", "--amount", amount, "--exporter", "torchscript", "--out", "o", "-q"
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["builtin:nope"], 2, "unknown builtin"),  # known without loading: a usage error
        (["no_such_module_xyz:f"], 3, "cannot import"),
        (["tests.models:missing"], 3, "no attribute"),
        (["tests.models:raises"], 3, "factory raised"),
        (["tests.models:not_a_module"], 3, "not a torch.nn.Module"),
        (["tests.models:no_conv"], 3, "no Conv2d"),
        (["tests.models:no_shape"], 2, "--input-shape is required"),
        (["tests.models:plain", "--input-shape", "1,5,12,12"], 3, "input shape (1, 5, 12, 12) at layer '0'"),
        (["tests.models:plain", "--input-shape", "1,x"], 2, "--input-shape"),
        (["tests.models:plain", "--formats", "onnx,bogus"], 2, "unknown format 'bogus'"),
        (["not a spec"], 2, "not a model spec"),
    ],
)
def test_input_errors_have_one_line_and_exit_code(cli, tmp_path, args, code, message):
    result = cli("run", *args, "--out", "o")
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()[-1]) > 0
    assert not (tmp_path / "o").exists()
    assert not list(tmp_path.glob("o.*"))


def test_debug_shows_traceback(cli):
    result = cli("--debug", "run", "tests.models:raises", "--out", "o")
    assert result.exit_code == 3
    assert "Traceback" in result.stderr


def test_weights_pt_and_safetensors_load(cli, tmp_path):
    state = models.plain().state_dict()
    state = {k: torch.randn_like(v) for k, v in state.items()}
    torch.save(state, tmp_path / "w.pt")
    save_file(state, tmp_path / "w.safetensors")
    for name in ("w.pt", "w.safetensors"):
        result = cli(
            "run",
            "tests.models:plain",
            "--weights",
            name,
            "--exporter",
            "torchscript",
            "--out",
            f"o-{name}",
            "-q",
        )
        assert result.exit_code == 0, result.output


def test_weights_mismatch_lists_keys(cli, tmp_path):
    state = models.plain().state_dict()
    state["extra.weight"] = state.pop("0.bias")
    state["2.weight"] = torch.zeros(1, 1, 1, 1)
    torch.save(state, tmp_path / "w.pt")
    result = cli("run", "tests.models:plain", "--weights", "w.pt", "--out", "o")
    assert result.exit_code == 3
    err = result.stderr
    assert "missing (1): 0.bias" in err and "unexpected (1): extra.weight" in err
    assert "shape mismatch (1): 2.weight (1, 1, 1, 1)" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (random.Random(0).randbytes(64), "not a safetensors file or a torch checkpoint")],
    ids=["empty", "random-bytes"],
)
def test_bad_weights_files(cli, tmp_path, content, message):
    (tmp_path / "w.pt").write_bytes(content)
    result = cli("run", "tests.models:plain", "--weights", "w.pt", "--out", "o")
    assert result.exit_code == 3 and message in result.stderr and "w.pt" in result.stderr


def test_torchscript_file_rejected(cli, tmp_path):
    torch.jit.script(models.plain()).save(str(tmp_path / "m.pt"))
    for args in (["run", "m.pt"], ["run", "tests.models:plain", "--weights", "m.pt"]):
        result = cli(*args, "--input-shape", "1,3,12,12", "--out", "o")
        assert result.exit_code == 3, result.output
        assert "TorchScript" in result.stderr or "torchscript" in result.stderr


def test_pickle_with_global_refused_by_weights_only(cli, tmp_path):
    torch.save({"model": models.plain()}, tmp_path / "full.pt")
    result = cli("run", "tests.models:plain", "--weights", "full.pt", "--out", "o")
    assert result.exit_code == 3
    assert "weights_only=True" in result.stderr


def test_validation_failure_keeps_previous_output(cli, tmp_path):
    assert cli("run", "builtin:lenet", *TORCHSCRIPT, "--out", "o", "-q").exit_code == 0
    good = manifest_of(tmp_path / "o")
    result = cli(
        "run", "builtin:lenet", "--amount", "0.6", "--atol", "0", "--rtol", "0", *TORCHSCRIPT, "--out", "o"
    )
    assert result.exit_code == 1, result.output
    assert "validation failed" in result.stderr
    assert manifest_of(tmp_path / "o") == good  # untouched
    failed = json.loads((tmp_path / "o.failed/report.json").read_text())
    assert failed["status"] == "failed" and failed["config"]["amount"] == 0.6
    assert (tmp_path / "o.failed/model.onnx").is_file()
    assert "FAIL" in result.stdout or "FAIL" in (tmp_path / "o.failed/report.md").read_text()


def test_out_is_a_file(cli, tmp_path):
    (tmp_path / "o").write_text("precious")
    result = cli("run", "tests.models:plain", "--out", "o")
    assert result.exit_code == 5 and "not a directory" in result.stderr
    assert (tmp_path / "o").read_text() == "precious"


def test_out_is_a_symlink(cli, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "o").symlink_to(tmp_path / "elsewhere")
    result = cli("run", "tests.models:plain", "--out", "o")
    assert result.exit_code == 5 and "symlink" in result.stderr
    assert not list((tmp_path / "elsewhere").iterdir())


def test_unwritable_parent(cli, tmp_path, monkeypatch):
    """Simulated EACCES (tests run as root in CI, where chmod 555 would not stop us)."""
    import errno
    from pathlib import Path

    real_mkdir = Path.mkdir

    def deny(self, *a, **k):
        if self.name.startswith("o.staging"):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(Path, "mkdir", deny)
    result = cli("run", "tests.models:plain", "--out", "o")
    assert result.exit_code == 5 and "Permission denied" in result.stderr
    assert not (tmp_path / "o").exists()


def test_split_stages_match_run(cli, tmp_path):
    assert cli("prune", "tests.models:residual", "--amount", "0.4", "--out", "w", "-q").exit_code == 0
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == [
        "manifest.json",
        "pruned.safetensors",
        "report.html",
        "report.json",
        "report.md",
        "state",
    ]
    result = cli("export", "w", "--exporter", "torchscript", "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "w/model.onnx").is_file()
    result = cli("validate", "w", "-q")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "w/report.json").read_text())
    assert report["status"] == "passed" and report["config"]["exporter"] == "torchscript"
    assert "timings_s" not in report  # timings vary, so they stay out of hashed files
    run = manifest_of(tmp_path / "w")["run"]
    assert set(run["timings_s"]) >= {"load", "prune", "export", "validate"}
    result = cli("report", "w")
    assert result.exit_code == 0 and "Per-layer sparsity" in result.output and "validate" in result.output
    assert manifest_of(tmp_path / "w")["run"] == run  # the report command keeps the run record
    listed = {f["path"] for f in manifest_of(tmp_path / "w")["files"]}
    assert listed == ARTIFACTS | {"report.json", "report.md", "report.html"}


def test_split_validate_failure_goes_to_failed_dir(cli, tmp_path):
    assert cli("prune", "builtin:lenet", "--out", "w", "-q").exit_code == 0
    assert cli("export", "w", "-q").exit_code == 0
    before = manifest_of(tmp_path / "w")
    result = cli("validate", "w", "--atol", "0", "--rtol", "0", "-q")
    assert result.exit_code == 1
    assert manifest_of(tmp_path / "w") == before
    assert (tmp_path / "w.failed/report.json").is_file()


def test_stage_command_on_missing_directory(cli):
    result = cli("export", "nowhere")
    assert (
        result.exit_code == 3 and "state/state.json" in result.stderr and "secateurs prune" in result.stderr
    )


def test_stale_staging_from_killed_run_is_cleaned(cli, tmp_path):
    stale = tmp_path / "o.staging-999999"
    stale.mkdir()
    (stale / "model.onnx").write_text("half")
    assert cli("run", "tests.models:plain", "--exporter", "torchscript", "--out", "o", "-q").exit_code == 0
    assert not stale.exists()


def test_reexport_voids_stale_verdicts_and_derived_files(cli, tmp_path):
    assert cli("run", "tests.models:residual", *TORCHSCRIPT, "--out", "w", "-q").exit_code == 0
    assert cli("export", "w", "--formats", "onnx,spz", *TORCHSCRIPT, "-q").exit_code == 0
    report = json.loads((tmp_path / "w/report.json").read_text())
    assert report["status"] == "unvalidated" and report["validation"] is None
    assert {a["file"] for a in report["artifacts"]} == {
        "model.onnx",
        "model.onnx.spz",
        "pruned.safetensors",
        "weights.npz",
    }
    assert not (tmp_path / "w/model.bitmask.onnx").exists()
    assert cli("validate", "w", "-q").exit_code == 0
    assert json.loads((tmp_path / "w/report.json").read_text())["status"] == "passed"


def test_each_help_lists_only_the_exit_codes_its_command_can_return(cli):
    from secateurs.cli import COMMAND_EXIT_CODES, main
    from secateurs.errors import EXIT_CODES

    assert set(COMMAND_EXIT_CODES) == set(main.commands)  # a new command must declare its codes
    for name, codes in COMMAND_EXIT_CODES.items():
        text = cli(name, "--help").output.split("Exit codes:", 1)[1]
        listed = {int(line.split()[0]) for line in text.strip().splitlines()}
        assert listed == set(codes) and listed <= set(EXIT_CODES), name
    assert "accuracy gate failed" not in cli("pack", "--help").output
    assert "accuracy gate failed" in cli("run", "--help").output
