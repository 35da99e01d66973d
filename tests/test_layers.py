"""The layer contract: a module imports only modules of the layers below its own, and the
deploy side (verify, unpack, inspect and the core they use) never reaches PyTorch.

The contracts live in pyproject.toml ([tool.importlinter]); import-linter reads every
import in every module, function-local ones included, and follows indirect chains.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Contracts: 3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "broken"),
    [
        ("manifest.py", "import torch", "secateurs.manifest is not allowed to import torch"),
        # only spz/output.py may reach the rest of secateurs
        (
            "spz/packer.py",
            "import secateurs.errors",
            "secateurs.spz is not allowed to import secateurs.errors",
        ),
    ],
)
def test_each_contract_can_fail(tmp_path, module, planted, broken):
    """A contract that cannot break proves nothing: plant a forbidden import in a copy."""
    copy = tmp_path / "repo"
    shutil.copytree(REPO / "secateurs", copy / "secateurs")
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    target = copy / "secateurs" / module
    target.write_text(target.read_text() + f"\n\ndef _planted():\n    {planted}  # noqa\n")
    linter = Path(sys.executable).with_name("lint-imports")
    env = {"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([str(linter)], cwd=copy, capture_output=True, text=True, env=env)
    assert result.returncode != 0
    assert broken in result.stdout
