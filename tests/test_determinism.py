"""Identical runs write identical bytes: every hashed file, and the manifest apart from its run block."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from secateurs import manifest
from secateurs.config import RunConfig
from secateurs.pipeline.runner import execute, run_stages

REPO = Path(__file__).resolve().parents[1]


def hashed_part(directory):
    data = json.loads((directory / "manifest.json").read_text())
    assert set(data) == {"schema", "files", "digest", "run"}
    return {k: v for k, v in data.items() if k != "run"}


def assert_identical(a, b):
    assert hashed_part(a) == hashed_part(b)
    for entry in hashed_part(a)["files"]:
        assert (a / entry["path"]).read_bytes() == (b / entry["path"]).read_bytes(), entry["path"]


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_two_runs_are_byte_identical(tmp_path, exporter):
    outs = [tmp_path / "first", tmp_path / "elsewhere" / "second"]  # different --out paths too
    for out in outs:
        cfg = RunConfig(
            model="tests.models:residual", out=out, amount=0.4, exporter=exporter, eval="random:32"
        )
        execute(cfg, run_stages(cfg))
    assert_identical(*outs)
    runs = [json.loads((out / "manifest.json").read_text())["run"] for out in outs]
    assert all(set(r) == {"created_at", "timings_s", "threads", "usable_cpus", "latency"} for r in runs)
    listed = {e["path"] for e in hashed_part(outs[0])["files"]}
    assert {"model.onnx", "model.onnx.spz", "weights.npz", "reference.npz", "report.json"} <= listed


def test_separate_processes_agree(cli, tmp_path):
    """A fresh interpreter agrees with this long-lived one, which has run other tests before:
    no state is carried between runs inside one process, and nothing depends on the process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout's secateurs, from any cwd
    subprocess.run(
        [sys.executable, "-m", "secateurs.cli", "run", "builtin:lenet", "--out", str(tmp_path / "a"), "-q"],
        check=True,
        capture_output=True,
        env=env,
    )
    assert cli("run", "builtin:lenet", "--out", "b", "-q").exit_code == 0
    assert_identical(tmp_path / "a", tmp_path / "b")


def test_a_different_setting_changes_the_digest(tmp_path):
    digests = []
    for amount in (0.3, 0.5):
        cfg = RunConfig(
            model="tests.models:plain",
            out=tmp_path / str(amount),
            amount=amount,
            formats=("onnx",),
            exporter="torchscript",
        )
        execute(cfg, run_stages(cfg))
        digests.append(hashed_part(cfg.out)["digest"])
    assert digests[0] != digests[1]
    assert all(d == manifest.digest(hashed_part(tmp_path / str(a))) for d, a in zip(digests, (0.3, 0.5)))


def test_the_dynamo_registry_is_built_once_and_the_hook_restored(tmp_path):
    """The per-process torchlib registry (onnx_model_torch.torchlib_registry_reused) hooks a
    private torch name: the pinned torch must still have it, or exports silently lose the
    cache. The byte-identity of cached exports is test_two_runs_are_byte_identical[dynamo]
    (in one process) and test_separate_processes_agree (against a fresh one)."""
    from secateurs.exporters import onnx_model_torch as m

    registration = m._registration_module()
    assert registration is not None, "torch.onnx's ONNXRegistry.from_torchlib moved"
    before = registration.ONNXRegistry.__dict__["from_torchlib"]
    with m.torchlib_registry_reused():
        first = registration.ONNXRegistry.from_torchlib(opset_version=m.OPSET)
        assert registration.ONNXRegistry.from_torchlib(opset_version=m.OPSET) is first
    assert registration.ONNXRegistry.__dict__["from_torchlib"] is before
