import hashlib
from dataclasses import replace
from pathlib import Path

import pytest
import torch


def pytest_addoption(parser):
    parser.addoption(
        "--browser",
        action="store_true",
        help="also run tests marked 'browser' (they need /usr/bin/chromium and fail without it)",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "browser: renders report.html in headless chromium; deselected unless --browser is given",
    )
    config.addinivalue_line(
        "markers",
        "ray: starts a local Ray instance (slow: about 10 s, and a worker per task); runs in `make test`,"
        " `-m 'not ray'` leaves them out",
    )


def pytest_collection_modifyitems(config, items):
    """`browser` tests are left out of the default run (and of `make test`) by deselection, never
    skipped: with --browser they run and fail loudly where chromium is missing."""
    if config.getoption("--browser"):
        return
    kept, left_out = [], []
    for item in items:
        (left_out if item.get_closest_marker("browser") else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


# Tests that share an expensive module- or session-scoped run, by node-id prefix: under
# `pytest -n` each group goes to one worker (other tests are balanced one by one), so the run
# is made once, not once per worker. xdist's own `--dist loadgroup` marks do nothing with
# pytest 9.2 (xdist 3.8 renames items through ``item._nodeid``, which pytest no longer reads).
SHARED_RUN_GROUPS = {
    "tests/test_sparse_artifacts.py": "builtin:resnet",
    "tests/test_first_hour_gates.py::test_resnet_with_batchnorm_validates_at_amount_one": "builtin:resnet",
    # before the module's own group: the first prefix that matches decides
    "tests/test_report_html.py::test_html_is_written_listed_and_self_contained[detector_eval]": "detector_labelled",
    "tests/test_report_html.py": "resnet_digits",
    "tests/test_evaluation.py::test_digits_evaluation_in_the_pipeline": "resnet_digits",
    "tests/test_verify.py": "test_verify runs",
    "tests/test_detection_pictures.py": "detector_labelled",
    "tests/test_ray.py": "one local Ray instance",
}


def shared_run_group(nodeid: str) -> str | None:
    for prefix, group in SHARED_RUN_GROUPS.items():
        if nodeid == prefix or nodeid.startswith((f"{prefix}::", f"{prefix}[")):
            return group
    return None


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`-n` (xdist's default ``--dist load``): schedule each SHARED_RUN_GROUPS group as one unit,
    the largest units first, and every other test as a unit of its own."""
    if config.getvalue("dist") != "load":
        return None  # an explicit --dist is the caller's choice
    from xdist.scheduler import LoadScopeScheduling

    class SharedRunScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return shared_run_group(nodeid) or nodeid

    return SharedRunScheduling(config, log)


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


def _fingerprint(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


class SharedRuns:
    """Artifact directories that many tests only read, each made once per session.

    A test that changes files must copy the directory first (``shutil.copytree`` into its
    ``tmp_path``); at the end of the session every shared directory is compared with what
    the run wrote, and a changed one is an error naming the run.

    Under pytest-xdist each worker is a session of its own: tests that share an expensive
    run are listed in ``SHARED_RUN_GROUPS``, so `make test` makes the run once.
    """

    def __init__(self, tmp_path_factory):
        self._factory = tmp_path_factory
        self._made: dict[tuple, tuple] = {}

    def _root(self) -> Path:
        return self._factory.mktemp("shared-run")

    def execute(self, model: str, stages=None, **settings):
        """(out, ctx, report) of ``pipeline.runner.execute`` for RunConfig(model, **settings);
        settings that make an equal RunConfig (a default given or left out) share one run."""
        from secateurs.config import RunConfig
        from secateurs.pipeline.runner import execute, run_stages

        key = ("execute", RunConfig(model=model, out=Path("out"), **settings), tuple(stages or ()))
        if key not in self._made:
            root = self._root()
            cfg = replace(key[1], out=root / "out")
            ctx, report = execute(cfg, list(stages) if stages else run_stages(cfg))
            self._made[key] = ((root / "out", ctx, report), root, _fingerprint(root))
        return self._made[key][0]

    def cli(self, *args: str, exit_code: int = 0) -> Path:
        """The root holding ``out`` (and ``out.failed`` when the run failed) of
        ``secateurs --no-config run ARGS --out <root>/out -q``, run in process."""
        from click.testing import CliRunner

        from secateurs.cli import main

        key = ("cli", *map(str, args))
        if key not in self._made:
            root = self._root()
            argv = ["--no-config", "run", *map(str, args), "--out", str(root / "out"), "-q"]
            result = CliRunner().invoke(main, argv, catch_exceptions=False)
            assert result.exit_code == exit_code, result.output
            self._made[key] = (root, root, _fingerprint(root))
        return self._made[key][0]

    def check_untouched(self) -> list[str]:
        return [str(key) for key, (_, root, before) in self._made.items() if _fingerprint(root) != before]


@pytest.fixture(scope="session")
def shared_runs(tmp_path_factory):
    """Read-only artifact directories made once per session (see SharedRuns)."""
    runs = SharedRuns(tmp_path_factory)
    yield runs
    changed = runs.check_untouched()
    assert not changed, f"tests changed shared artifact directories (copy them first): {changed}"


@pytest.fixture(scope="session")
def resnet_digits(shared_runs) -> Path:
    """`run builtin:resnet --amount 0.1 --eval builtin:digits --max-accuracy-drop 0.5` (torchscript
    export), read only: the task evaluation and report.html tests share this one run (one
    worker's, SHARED_RUN_GROUPS)."""
    args = ("builtin:resnet", "--amount", "0.1", "--eval", "builtin:digits", "--max-accuracy-drop", "0.5")
    args += ("--exporter", "torchscript")
    return shared_runs.cli(*args) / "out"


@pytest.fixture(scope="session")
def detector_labelled(shared_runs, tmp_path_factory) -> Path:
    """`run tests.models:pixel_detector --eval data.yaml` (three labelled images, two classes;
    torchscript export, model.onnx only), read only: the detection pictures tests share it."""
    from tests.models import TORCHSCRIPT
    from tests.test_detect_eval import yolo_dataset

    data = yolo_dataset(tmp_path_factory.mktemp("detector-data") / "ds")
    return (
        shared_runs.cli("tests.models:pixel_detector", "--eval", data, *TORCHSCRIPT, "--formats", "onnx")
        / "out"
    )
