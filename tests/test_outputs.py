"""Output safety: a failed or interrupted run never damages a previous good output."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.models import TORCHSCRIPT

REPO = Path(__file__).resolve().parents[1]


def manifest(path):
    return json.loads((path / "manifest.json").read_text())


@pytest.fixture
def good_out(cli, tmp_path, shared_runs):
    """A private copy of a good run's output at tmp_path/o (the run itself is made once)."""
    made = shared_runs.cli("tests.models:plain", *TORCHSCRIPT) / "out"
    out = Path(shutil.copytree(made, tmp_path / "o", symlinks=True))
    return out, manifest(out)


def assert_untouched(tmp_path, out, before):
    assert manifest(out) == before
    assert not list(tmp_path.glob("o.staging-*"))


def test_symlink_placed_at_an_artifact_name(cli, tmp_path, good_out):
    out, _ = good_out
    victim = tmp_path / "victim.txt"
    victim.write_text("do not touch")
    (out / "model.onnx").unlink()
    (out / "model.onnx").symlink_to(victim)
    assert cli("run", "tests.models:plain", *TORCHSCRIPT, "--out", "o", "-q").exit_code == 0
    assert victim.read_text() == "do not touch"
    assert not (out / "model.onnx").is_symlink()


@pytest.mark.parametrize("where", ["exporter", "report"])
def test_disk_full_mid_write(cli, tmp_path, good_out, monkeypatch, where):
    out, before = good_out

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if where == "exporter":
        monkeypatch.setattr("secateurs.exporters.safetensors_weights_torch.save_state_dict", full)
    else:
        monkeypatch.setattr(os, "fsync", full)
    result = cli("run", "tests.models:plain", "--amount", "0.7", *TORCHSCRIPT, "--out", "o")
    assert result.exit_code == 5, result.output
    assert "disk full" in result.stderr or "No space" in result.stderr
    assert_untouched(tmp_path, out, before)


def test_out_directory_read_only_inside(cli, tmp_path, good_out, monkeypatch):
    """The swap into place fails (e.g. a read-only parent): the old output survives."""
    out, before = good_out
    real_replace = os.replace

    def deny(src, dst, *a, **k):
        if Path(src).name.startswith("o.staging") and Path(dst).resolve() == out.resolve():
            raise PermissionError(errno.EACCES, "Permission denied", str(dst))
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", deny)
    result = cli("run", "tests.models:plain", "--amount", "0.7", *TORCHSCRIPT, "--out", "o")
    assert result.exit_code == 5, result.output
    assert_untouched(tmp_path, out, before)


def _spawn(tmp_path, *args):
    """`secateurs run` on slow_eager, which holds its first validate forward open (120 s) once
    model.onnx is staged, after creating tmp_path/held: a signal sent after that file appears
    lands mid-run, however loaded the machine."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "SECATEURS_TEST_HOLD": str(tmp_path / "held")}
    cmd = [sys.executable, "-m", "secateurs", "run", "tests.models:slow_eager", *TORCHSCRIPT]
    cmd += ["--out", "o", "-q", *args]
    return subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_leaves_nothing(tmp_path, sig):
    proc = _spawn(tmp_path)
    for _ in range(12000):  # wait (bounded, 120 s) until the run holds mid-way
        if (tmp_path / "held").exists() or proc.poll() is not None:
            break
        time.sleep(0.01)
    assert (tmp_path / "held").exists(), proc.communicate(timeout=120)[1]
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert b"interrupted" in err
    assert not (tmp_path / "o").exists()
    assert not list(tmp_path.glob("o.*"))


# A signal that lands while an extension module runs Python code through PyRun_String (pybind11's
# py::exec/eval do) must still end in exit code 130 under `python -m`: CPython turns a bare
# KeyboardInterrupt leaving PyRun_String into "killed by SIGINT" at exit, even once caught (CI saw
# status -2). The `-m` entry matters: a script's SystemExit leaves through Py_Exit, which never checks.
_SIGNAL_INSIDE_PYRUN_STRING = """
import ctypes, sys
import click
from secateurs.cli import main

run_string = ctypes.pythonapi.PyRun_String
run_string.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.py_object, ctypes.py_object]
run_string.restype = ctypes.py_object
code = b"import os, signal; os.kill(os.getpid(), signal.%s)" % sys.argv[1].encode()
main.add_command(click.Command("boom", callback=lambda: run_string(code, 257, {}, {})))
main(["boom"], prog_name="secateurs")
"""


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_signal_inside_extension_code_exits_130(tmp_path, sig):
    (tmp_path / "signal_inside_pyrun_string.py").write_text(_SIGNAL_INSIDE_PYRUN_STRING)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path)])}
    cmd = [sys.executable, "-m", "signal_inside_pyrun_string", sig]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, timeout=120)
    assert proc.returncode == 130, proc.stderr
    assert b"secateurs: interrupted" in proc.stderr
