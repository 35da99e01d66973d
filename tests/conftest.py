import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Invoke the CLI in-process from inside tmp_path; returns click's Result."""
    from click.testing import CliRunner

    from secateurs.cli import main

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke
