"""secateurs.api: the commands as Python functions, returning report data and raising the
CLI's typed errors, with nothing half-written at out."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from secateurs import api
from secateurs.errors import EXIT_USAGE, ExportError, GateFailed, InputError, UsageError, ValidationFailed

REPO = Path(__file__).resolve().parents[1]


def report_file(directory):
    return json.loads((directory / "report.json").read_text())


def test_importing_the_api_imports_no_torch():
    code = "import sys, secateurs.api; print('torch' in sys.modules, 'onnx' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.split() == ["False", "False"]


def test_run_returns_report_json_and_takes_cli_names(tmp_path):
    lines = []
    data = api.run(
        "tests.models:plain",
        out=tmp_path / "o",
        amount=0.5,
        input_shape=[1, 3, 12, 12],
        formats="onnx,spz",
        exporter="torchscript",
        opset=17,
        provider="cpu",
        threads=1,
        progress=lines.append,
    )
    assert data == report_file(tmp_path / "o")
    assert data["status"] == "passed"
    assert data["config"]["amount"] == 0.5 and data["config"]["opset"] == 17
    assert data["config"]["formats"] == ["onnx", "spz"]
    assert {a["file"] for a in data["artifacts"]} == {"model.onnx", "model.onnx.spz"}
    assert lines[0] == "[1/6] load"


def test_a_failure_raises_the_typed_error_and_writes_nothing(tmp_path):
    with pytest.raises(InputError, match="factory exploded"):
        api.run("tests.models:raises", out=tmp_path / "o")
    with pytest.raises(ExportError, match="dynamo exporter failed"):  # after load and prune ran in staging
        api.run("tests.models:data_dependent", out=tmp_path / "o", exporter="dynamo")
    with pytest.raises(UsageError, match="--opset 17") as caught:
        api.run("builtin:lenet", out=tmp_path / "o", opset=17)
    assert caught.value.exit_code == EXIT_USAGE
    with pytest.raises(UsageError, match="--threads"):
        api.run("builtin:lenet", out=tmp_path / "o", threads=0)
    assert list(tmp_path.iterdir()) == []  # no out, no staging directory, no .failed


def test_a_failed_validation_raises_and_keeps_the_previous_output(tmp_path):
    fast = {"formats": ["onnx"], "exporter": "torchscript"}
    api.run("tests.models:plain", out=tmp_path / "o", **fast)
    before = (tmp_path / "o" / "manifest.json").read_text()
    with pytest.raises(ValidationFailed, match="validation failed"):
        api.run("tests.models:plain", out=tmp_path / "o", amount=0.6, atol=0, rtol=0, **fast)
    assert (tmp_path / "o" / "manifest.json").read_text() == before
    assert report_file(tmp_path / "o.failed")["status"] == "failed"


def test_a_broken_budget_raises_gate_failed(tmp_path):
    with pytest.raises(GateFailed, match="accuracy gate failed"):
        api.run(
            "builtin:lenet",
            out=tmp_path / "o",
            formats="onnx",
            amount=0.9,
            eval="builtin:digits",
            max_accuracy_drop=0.01,
            exporter="torchscript",
        )  # fmt: skip  (lenet loses 4.4 points at 0.9)
    assert not (tmp_path / "o").exists()
    assert report_file(tmp_path / "o.failed")["status"] == "gate-failed"


def test_auto_needs_a_budget_and_no_amount(tmp_path):
    with pytest.raises(UsageError, match="drop amount"):
        api.run(
            "builtin:lenet", out=tmp_path / "o", auto=True, amount=0.3, eval="random:8", min_agreement=0.9
        )
    with pytest.raises(UsageError, match="needs a budget"):
        api.run("builtin:lenet", out=tmp_path / "o", auto=True)
    assert not (tmp_path / "o").exists()


def test_the_split_stages_and_verify(tmp_path):
    work = tmp_path / "w"
    assert api.prune("tests.models:residual", out=work, amount=0.4)["status"] == "unvalidated"
    exported = api.export(work, exporter="torchscript", formats=["onnx", "bitmask-onnx"])
    assert {a["file"] for a in exported["artifacts"]} >= {"model.onnx", "model.bitmask.onnx"}
    validated = api.validate(work, threads=1)
    assert validated["status"] == "passed" and validated["validation"]["n_failed"] == 0
    assert api.report(work) == report_file(work)
    result = api.verify(work, threads=1)
    assert result["passed"] and len(result["digest"]) == 64
    with pytest.raises(UsageError, match="sha256"):
        api.verify(work, expect_digest="abc")
    model = work / "model.onnx"
    model.write_bytes(model.read_bytes()[:-1] + bytes([model.read_bytes()[-1] ^ 1]))
    with pytest.raises(ValidationFailed, match="verify failed .*model.onnx"):
        api.verify(work)


def test_a_stage_on_a_missing_directory_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        api.validate(tmp_path / "nothing")
    assert list(tmp_path.iterdir()) == []
