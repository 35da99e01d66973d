"""The deploy-side commands (verify, unpack, inspect, report) work where PyTorch is not installed.

Each command runs in a fresh interpreter whose import system refuses torch and the other
export-side dependencies, as on a machine with only the base install.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from secateurs import manifest
from secateurs.cli import EXPORT_EXTRA_MODULES, main

BLOCKED = tuple(sorted(EXPORT_EXTRA_MODULES))

# Runs secateurs.cli.main with argv; at exit prints which blocked modules were imported.
SCRIPT = f"""
import atexit, sys

BLOCKED = {BLOCKED!r}


class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)", name=name)
        return None


sys.meta_path.insert(0, Refuse())
atexit.register(
    lambda: print(
        "IMPORTED:" + ",".join(sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)),
        file=sys.stderr,
    )
)
from secateurs.cli import main

main(sys.argv[1:], prog_name="secateurs")
"""


def without_torch(*args, cwd: Path) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-c", SCRIPT, *map(str, args)]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)


def imported(proc: subprocess.CompletedProcess) -> list[str]:
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("IMPORTED:")]
    assert line, proc.stderr
    return [m for m in line[-1].removeprefix("IMPORTED:").split(",") if m]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("torch_free") / "lenet"
    result = CliRunner().invoke(
        main, ["run", "builtin:lenet", "--exporter", "torchscript", "--out", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    return out


def test_verify_without_torch(artifacts, tmp_path):
    digest = manifest.read(artifacts)["digest"]
    proc = without_torch("verify", artifacts, "--expect-digest", digest, "--json", "v.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert imported(proc) == []
    data = json.loads((tmp_path / "v.json").read_text())
    assert data["passed"] and any(
        c["name"].startswith("onnxruntime vs reference.npz") for c in data["checks"]
    )


def test_verify_failure_without_torch(artifacts, tmp_path):
    art = Path(shutil.copytree(artifacts, tmp_path / "art"))
    data = bytearray((art / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (art / "model.onnx").write_bytes(bytes(data))
    proc = without_torch("verify", art, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "model.onnx: size and sha256 as listed: sha256 differs" in proc.stderr
    assert "Traceback" not in proc.stderr and imported(proc) == []


def test_report_without_torch(artifacts, tmp_path):
    """`report DIR` re-renders from report.json: a CI step that only reads results needs no torch."""
    art = Path(shutil.copytree(artifacts, tmp_path / "art"))
    digest = manifest.read(art)["digest"]
    proc = without_torch("report", art, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert imported(proc) == [] and proc.stdout.splitlines()[-1].startswith(f"PASSED | {art} | ")
    assert manifest.read(art)["digest"] == digest  # the same files, rewritten


def test_unpack_and_inspect_without_torch(artifacts, tmp_path):
    proc = without_torch("unpack", artifacts / "model.onnx.spz", "-o", tmp_path / "model.onnx", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert manifest.sha256(tmp_path / "model.onnx") == manifest.sha256(artifacts / "model.onnx")
    assert imported(proc) == []
    for file in (artifacts / "model.onnx.spz", artifacts / "model.onnx"):
        proc = without_torch("inspect", file, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "sparsity" in proc.stdout and imported(proc) == []


def test_help_without_torch(tmp_path):
    proc = without_torch("--help", cwd=tmp_path)
    assert proc.returncode == 0 and "verify" in proc.stdout, proc.stderr
    assert imported(proc) == []


# Where torch is installed, importing secateurs.cli and `--help` still load none of the heavy
# modules (DESIGN.md): nothing is blocked, so an import attempt cannot hide behind a fallback.
HELP_SCRIPT = """
import sys

HEAVY = {"torch", "onnx", "onnxruntime", "onnxscript", "scipy", "safetensors", "sklearn", "pycocotools", "faster_coco_eval", "matplotlib", "torch_pruning"}
loaded = lambda: sorted({m.partition(".")[0] for m in sys.modules} & HEAVY)
from secateurs.cli import main

print("IMPORT:" + ",".join(loaded()))
try:
    main(["--help"], prog_name="secateurs")
except SystemExit as e:
    assert e.code == 0, e.code
print("HELP:" + ",".join(loaded()))
"""


def test_import_and_help_load_no_heavy_module_where_torch_is_installed(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", HELP_SCRIPT], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "IMPORT:" in lines and "HELP:" in lines, proc.stdout[-2000:]


def test_run_without_torch_names_the_missing_extra(tmp_path):
    proc = without_torch("run", "builtin:lenet", "--out", tmp_path / "out", cwd=tmp_path)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("secateurs: error: ")]
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 2, proc.stderr
    assert len(errors) == 1 and "pip install" in errors[0] and "torch" in errors[0]
    assert "[1/" not in proc.stderr and not list(tmp_path.iterdir())  # no progress, nothing staged


def test_verify_takes_threads_and_the_api_verifies_without_torch(artifacts, tmp_path):
    proc = without_torch("verify", artifacts, "--threads", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert imported(proc) == []
    script = SCRIPT.replace(
        'from secateurs.cli import main\n\nmain(sys.argv[1:], prog_name="secateurs")',
        "from secateurs import api\n\nprint('PASSED', api.verify(sys.argv[1], threads=1)['passed'])",
    )
    assert script != SCRIPT
    proc = subprocess.run(
        [sys.executable, "-c", script, str(artifacts)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "PASSED True" in proc.stdout
    assert imported(proc) == []
