"""--executor ray on one local Ray instance (2 CPUs, loopback): the same results as local,
a killed worker retried with its staging removed. Marked ``ray`` (slow); one xdist worker runs
them all (tests/conftest.py SHARED_RUN_GROUPS), so Ray starts once.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from secateurs.cli import main

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray

LENET = ["builtin:lenet", "--eval", "builtin:digits", "--threads", "1"]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One Ray instance for the module; the executor reuses it and leaves it running."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def invoke(tmp_path, monkeypatch, *args):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["--no-config", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result


def without_timings(data: dict, keys: tuple[str, ...]) -> dict:
    data = {k: v for k, v in data.items() if k not in keys}
    if "rows" in data:
        data["rows"] = [{k: v for k, v in r.items() if k != "seconds"} for r in data["rows"]]
    return data


def test_sweep_on_ray_matches_local(tmp_path, monkeypatch):
    args = [
        "sweep",
        *LENET,
        "--amounts",
        "0.3,0.6,0.9",
        "--exporter",
        "torchscript",
        "--max-accuracy-drop",
        "0.01",
        "--latency-runs",
        "0",  # timings vary run to run, and are measured locally only
    ]
    invoke(tmp_path, monkeypatch, *args, "--out", "local", "--quiet")
    invoke(tmp_path, monkeypatch, *args, "--out", "ray", "--quiet", "--executor", "ray")
    local, remote = (json.loads((tmp_path / d / "sweep.json").read_text()) for d in ("local", "ray"))
    assert [r["model_onnx"] for r in remote["rows"]] == ["exported", "rendered", "rendered"]
    assert without_timings(remote, ("timings_s",)) == without_timings(local, ("timings_s",))


def test_sensitivity_on_ray_matches_local(tmp_path, monkeypatch):
    args = ["sensitivity", *LENET, "--amounts", "0.5,0.9", "--max-accuracy-drop", "0.02", "--quiet"]
    invoke(tmp_path, monkeypatch, *args, "--out", "local")
    invoke(tmp_path, monkeypatch, *args, "--out", "ray", "--executor", "ray")
    local, remote = (json.loads((tmp_path / d / "sensitivity.json").read_text()) for d in ("local", "ray"))
    timings = ("seconds", "sweep_seconds")
    assert without_timings(remote, timings) == without_timings(local, timings)
    assert (tmp_path / "ray/recipe.json").read_bytes() == (tmp_path / "local/recipe.json").read_bytes()


KILLER = '''
import os
import signal
from pathlib import Path

from secateurs.models import get_builtin


def make():
    """builtin:lenet's network; the first call kills its own process, as a lost node would."""
    marker = Path(__file__).with_name("killed-once")
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return get_builtin("lenet").factory()
'''


def test_batch_on_ray_retries_a_killed_worker_leaves_no_staging_and_writes_local_bytes(tmp_path, monkeypatch):
    (tmp_path / "killer.py").write_text(KILLER)
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(
        '[defaults]\nexporter = "torchscript"\nformats = ["onnx", "sparse-onnx"]\n'
        '[[jobs]]\nmodel = "killer:make"\ninput-shape = [1, 1, 32, 32]\nout = "out/killed"\n'
        '[[jobs]]\nmodel = "builtin:lenet"\nout = "out/lenet"\namount = 0.5\n'
    )
    invoke(tmp_path, monkeypatch, "batch", jobs, "--executor", "ray", "--quiet")
    assert (tmp_path / "killed-once").is_file()  # the first attempt died
    data = json.loads((tmp_path / "batch.json").read_text())
    assert data["executor"] == "ray" and [r["status"] for r in data["jobs"]] == ["passed", "passed"]
    assert (tmp_path / "out/killed/manifest.json").is_file()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["killed", "lenet"]  # no staging left
    # the local executor writes the same bytes: the same manifest digest (lenet; the killer's
    # factory draws fresh random weights)
    (tmp_path / "out").rename(tmp_path / "out-ray")
    invoke(tmp_path, monkeypatch, "batch", jobs, "--quiet", "--no-resume", "--summary", "local.json")
    local = json.loads((tmp_path / "local.json").read_text())
    assert local["jobs"][1]["digest"] == data["jobs"][1]["digest"]
