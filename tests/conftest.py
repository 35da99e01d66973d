import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _no_step_summary(monkeypatch):
    """Runs under GitHub Actions must not append every test's report to the job summary."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


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
