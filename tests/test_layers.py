"""The layer contract: a module imports only modules of the layers below its own, and the
deploy side (verify, unpack, inspect and the core they use) never reaches PyTorch.

The contracts live in pyproject.toml ([tool.importlinter]); import-linter reads every
import in every module, function-local ones included, and follows indirect chains.
"""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Contracts: 3 kept, 0 broken" in result.stdout


def test_the_contract_can_fail(tmp_path):
    """A contract that cannot break proves nothing: plant a forbidden import in a copy."""
    import shutil

    copy = tmp_path / "repo"
    shutil.copytree(REPO / "secateurs", copy / "secateurs")
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    manifest = copy / "secateurs" / "manifest.py"
    manifest.write_text(manifest.read_text() + "\n\ndef _planted():\n    import torch  # noqa\n")
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(linter)],
        cwd=copy,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "secateurs.manifest is not allowed to import torch" in result.stdout


def test_spz_stands_alone(tmp_path):
    """Only spz/output.py may reach the rest of secateurs: plant a secateurs.errors import elsewhere."""
    import shutil

    copy = tmp_path / "repo"
    shutil.copytree(REPO / "secateurs", copy / "secateurs")
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    packer = copy / "secateurs" / "spz" / "packer.py"
    packer.write_text(packer.read_text() + "\n\ndef _planted():\n    import secateurs.errors  # noqa\n")
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(linter)],
        cwd=copy,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "secateurs.spz is not allowed to import secateurs.errors" in result.stdout
