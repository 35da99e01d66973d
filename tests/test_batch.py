"""`secateurs batch JOBS.toml` on the local executor: every job a `run`, resume, refusals.

The Ray executor's own tests (identical results, a killed worker) are in tests/test_ray.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from secateurs.cli import main

FAST = 'exporter = "torchscript"\nformats = ["onnx"]\n'


def jobs_file(tmp_path, body: str, defaults: str = FAST):
    path = tmp_path / "jobs.toml"
    path.write_text(f"[defaults]\n{defaults}\n{body}")
    return path


def job(model: str, out: str, extra: str = "") -> str:
    return f'[[jobs]]\nmodel = "{model}"\nout = "{out}"\n{extra}\n'


def batch(tmp_path, monkeypatch, *args):
    monkeypatch.chdir(tmp_path)
    return CliRunner().invoke(main, ["--no-config", "batch", *map(str, args)])


def test_batch_runs_every_job_keeps_going_after_a_failure_and_exits_with_the_worst_code(
    tmp_path, monkeypatch
):
    path = jobs_file(
        tmp_path,
        job("builtin:lenet", "out/a", "amount = 0.5")
        + job("builtin:lenet", "out/b", "atol = 0.0\nrtol = 0.0")  # fails validation: exit 1
        + job("builtin:lenet", "out/c", 'scope = "global"\namount = 0.7'),
    )
    result = batch(tmp_path, monkeypatch, path)
    assert result.exit_code == 1, result.output
    for name in ("a", "c"):  # promoted, with their manifests
        assert (tmp_path / "out" / name / "manifest.json").is_file()
    assert not (tmp_path / "out/b").exists() and (tmp_path / "out/b.failed/report.json").is_file()
    assert not list((tmp_path / "out").glob("*staging*"))
    data = json.loads((tmp_path / "batch.json").read_text())  # beside jobs.toml
    assert data["schema"] == "secateurs.batch/1" and data["exit_code"] == 1
    assert [(r["job"], r["status"], r["exit_code"]) for r in data["jobs"]] == [
        (1, "passed", 0),
        (2, "failed", 1),
        (3, "passed", 0),
    ]
    a, b, c = data["jobs"]
    assert a["sparsity"] == pytest.approx(0.5, abs=0.01) and c["sparsity"] == pytest.approx(0.7, abs=0.01)
    assert a["recommended"]["file"].endswith(".onnx") and a["recommended"]["size"] > 0
    assert a["digest"] == json.loads((tmp_path / "out/a/manifest.json").read_text())["digest"]
    assert b["recommended"] is None and "validation failed" in b["message"]
    lines = result.output.splitlines()
    assert any(ln.startswith("#2") and "failed" in ln for ln in lines)  # the table
    assert lines[-1].startswith("DONE | batch.json | 3 jobs: 2 passed, 1 failed | exit 1")
    # each job records its settings as coming from the jobs file, as `run` does for a settings file
    report = json.loads((tmp_path / "out/c/report.json").read_text())
    assert report["config"]["scope"] == "global" and report["config"]["settings_file"] == "jobs.toml"


def test_resume_skips_unchanged_jobs_and_reruns_changed_or_tampered_ones(tmp_path, monkeypatch):
    body = job("builtin:lenet", "out/a", "amount = 0.5") + job("builtin:lenet", "out/b", "amount = 0.3")
    path = jobs_file(tmp_path, body)
    assert batch(tmp_path, monkeypatch, path).exit_code == 0
    stamp = {n: (tmp_path / "out" / n / "manifest.json").stat().st_mtime_ns for n in "ab"}

    again = batch(tmp_path, monkeypatch, path, "--quiet")
    assert again.exit_code == 0, again.output
    statuses = [r["status"] for r in json.loads((tmp_path / "batch.json").read_text())["jobs"]]
    assert statuses == ["skipped", "skipped"]
    assert {n: (tmp_path / "out" / n / "manifest.json").stat().st_mtime_ns for n in "ab"} == stamp

    path.write_text(path.read_text().replace("amount = 0.3", "amount = 0.4"))  # job 2 changed
    (tmp_path / "out/a/report.md").write_text("edited")  # job 1's output no longer matches its manifest
    third = batch(tmp_path, monkeypatch, path, "--quiet")
    assert third.exit_code == 0, third.output
    records = json.loads((tmp_path / "batch.json").read_text())["jobs"]
    assert [r["status"] for r in records] == ["passed", "passed"]
    assert records[1]["sparsity"] == pytest.approx(0.4, abs=0.01)
    assert (tmp_path / "out/a/report.md").read_text() != "edited"

    fourth = batch(tmp_path, monkeypatch, path, "--quiet", "--no-resume")
    assert [r["status"] for r in json.loads((tmp_path / "batch.json").read_text())["jobs"]] == [
        "passed",
        "passed",
    ], fourth.output


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('[[jobs]\nmodel = "builtin:lenet"\n', "jobs.toml: invalid TOML"),
        (
            job("builtin:lenet", "o1") + job("builtin:lenet", "o2", "amonut = 0.5"),
            "jobs.toml [[jobs]] #2: amonut: unknown setting",
        ),
        (job("builtin:lenet", "o1") + '[[jobs]]\nout = "o2"\n', "jobs.toml [[jobs]] #2: no model"),
        ('[[jobs]]\nmodel = "builtin:lenet"\n', "jobs.toml [[jobs]] #1: no out"),
        (
            job("builtin:lenet", "o1") + job("models/gone.pt2", "o2"),
            "jobs.toml [[jobs]] #2: 'models/gone.pt2' is not a model spec or an existing file",
        ),
        (
            job("builtin:lenet", "o1") + job("builtin:lenet", "o2", "amount = 1.5"),
            "jobs.toml [[jobs]] #2: amount",
        ),
        (
            job("builtin:lenet", "o1") + job("builtin:lenet", "o2", 'scope = "sideways"'),
            "jobs.toml [[jobs]] #2: ",
        ),
        (
            job("builtin:lenet", "o1") + job("builtin:lenet", "o1"),
            "jobs.toml [[jobs]] #2: out o1 is also job #1's",
        ),
        (job("builtin:lenet", "o1", "trust-model-code = true"), "can only be given on the command line"),
        ("[[jobs]]\n" + 'model = "builtin:lenet"\nout = "o"\nquiet = true\n', "#1: quiet: give --quiet to"),
        ("[job]\nmodel = 1\n", "jobs.toml: job: not a jobs file key"),
        ("", "jobs.toml: no jobs"),
    ],
)
def test_a_bad_jobs_file_exits_2_in_one_line_before_any_job_runs(tmp_path, monkeypatch, text, said):
    path = tmp_path / "jobs.toml"
    path.write_text(text)
    result = batch(tmp_path, monkeypatch, path)
    assert result.exit_code == 2, result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("secateurs: error:")]
    assert len(errors) == 1 and said in errors[0], result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jobs.toml"]  # nothing ran, no batch.json


def test_a_bad_default_is_named_as_the_default(tmp_path, monkeypatch):
    path = jobs_file(tmp_path, job("builtin:lenet", "o"), defaults="formats = 3.5\nbogus = 1\n")
    result = batch(tmp_path, monkeypatch, path)
    assert result.exit_code == 2 and "jobs.toml [defaults]: bogus: unknown setting" in result.output


@pytest.mark.parametrize("command", ["batch", "sweep", "sensitivity"])
def test_executor_ray_without_ray_installed_exits_2_naming_the_extra(tmp_path, monkeypatch, command):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as where it is not installed
    monkeypatch.delitem(sys.modules, "secateurs.executors.ray_tasks", raising=False)
    args = {
        "batch": [jobs_file(tmp_path, job("builtin:lenet", "o"))],
        "sweep": ["builtin:lenet", "--out", "o"],
        "sensitivity": ["builtin:lenet", "--eval", "builtin:digits", "--out", "o"],
    }[command]
    result = batch(tmp_path, monkeypatch, *args, "--executor", "ray") if command == "batch" else None
    if result is None:
        monkeypatch.chdir(tmp_path)
        result = CliRunner().invoke(main, ["--no-config", command, *map(str, args), "--executor", "ray"])
    assert result.exit_code == 2, result.output
    assert "--executor ray needs Ray, which is not installed; pip install 'secateurs[ray]'" in result.output
    assert not (tmp_path / "o").exists() and not (tmp_path / "batch.json").exists()


def test_ray_address_needs_the_ray_executor(tmp_path, monkeypatch):
    path = jobs_file(tmp_path, job("builtin:lenet", "o"))
    result = batch(tmp_path, monkeypatch, path, "--ray-address", "127.0.0.1:1")
    assert result.exit_code == 2 and "--ray-address needs --executor ray" in result.output


def test_help_of_the_executor_commands_imports_no_ray():
    script = (
        "import sys\nfrom secateurs.cli import main\n"
        "for c in ('batch', 'sweep', 'sensitivity'):\n"
        "    try:\n        main([c, '--help'], prog_name='secateurs')\n"
        "    except SystemExit as e:\n        assert e.code == 0\n"
        "print('RAY' if 'ray' in sys.modules else 'NO-RAY')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "NO-RAY" and "--executor [local|ray]" in proc.stdout


def test_temp_directories_of_dead_processes_are_removed_and_live_ones_kept(tmp_path, monkeypatch):
    """A sweep probe killed mid-task leaves secateurs-sweep-<pid>-*; the retry removes it."""
    from secateurs import files

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    gone = tmp_path / f"secateurs-sweep-{int(dead.stdout)}-abc"
    mine = Path(tempfile.mkdtemp(prefix=files.pid_tagged_temp("secateurs-sweep-")))
    gone.mkdir()
    (gone / "model.onnx").write_bytes(b"x")
    files.clean_stale_temp("secateurs-sweep-")
    assert not gone.exists() and mine.is_dir() and mine.parent == tmp_path


def test_a_job_with_auto_chooses_its_amount_and_auto_with_an_amount_is_refused(tmp_path, monkeypatch):
    budget = 'eval = "builtin:digits"\nmax-accuracy-drop = 0.01\nauto = true'
    path = jobs_file(tmp_path, job("builtin:lenet", "out/auto", budget))
    result = batch(tmp_path, monkeypatch, path, "--quiet")
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "batch.json").read_text())["jobs"][0]
    assert record["status"] == "passed" and 0 < record["amount"] <= 1 and record["amount"] != 0.3
    notes = json.loads((tmp_path / "out/auto/report.json").read_text())["model"]["notes"]
    assert any("--auto chose amount" in n for n in notes)

    path.write_text(path.read_text().replace("auto = true", "auto = true\namount = 0.5"))
    refused = batch(tmp_path, monkeypatch, path)
    assert refused.exit_code == 2 and "[[jobs]] #1: auto chooses the amount itself" in refused.output


def test_an_unreachable_ray_address_is_exit_2_at_once(cli, tmp_path):
    """ray.init retries an address nobody listens on for minutes; secateurs tries TCP first."""
    result = cli(
        "sweep", "builtin:lenet", "--amounts", "0.5", "--executor", "ray", "--ray-address", "127.0.0.1:1"
    )
    assert result.exit_code == 2, result.output
    assert "--ray-address 127.0.0.1:1: cannot connect to a Ray cluster" in result.stderr


def test_auto_refuses_fine_tuning_wherever_it_is_asked_for(tmp_path):
    """run, a settings file and a batch job all reach --auto through auto_amount_for."""
    from secateurs.config import RunConfig
    from secateurs.errors import UsageError
    from secateurs.tuning.sweep import auto_amount_for

    cfg = RunConfig(
        model="builtin:lenet", out=tmp_path / "o", eval="builtin:digits", max_accuracy_drop=0.01, finetune=1
    )
    with pytest.raises(UsageError, match="without fine-tuning"):
        auto_amount_for(cfg)


def test_a_channel_job_shows_the_parameters_left_not_zeros(tmp_path, monkeypatch):
    path = jobs_file(
        tmp_path,
        job("builtin:resnet", "out/ch", 'structure = "channels"\namount = 0.5\nformats = "onnx"')
        + job("builtin:lenet", "out/u", "amount = 0.5"),
    )
    result = batch(tmp_path, monkeypatch, path)
    assert result.exit_code == 0, result.output
    ch, u = json.loads((tmp_path / "batch.json").read_text())["jobs"]
    report = json.loads((tmp_path / "out/ch/report.json").read_text())["channels"]
    assert ch["structure"] == "channels" and ch["sparsity"] is None
    assert ch["params"] == [report["params_before"], report["params_after"]]
    assert u["params"] is None and u["sparsity"] == pytest.approx(0.5, abs=0.01)
    row = next(ln for ln in result.output.splitlines() if ln.startswith("#1"))
    assert f"{report['params_before'] / report['params_after']:.2f}x fewer params" in row
    assert "% zeros" in next(ln for ln in result.output.splitlines() if ln.startswith("#2"))


def test_a_jobs_own_round_to_is_explicit_and_defaults_round_channel_jobs_only(tmp_path, monkeypatch):
    """[defaults] round-to is a default (unstructured jobs drop it); a job's own round-to is its
    command line: with an unstructured job, or against a channel recipe, exit 2 naming the job."""
    path = jobs_file(
        tmp_path,
        job("builtin:lenet", "out/u", "amount = 0.5")
        + job("builtin:resnet", "out/c", 'structure = "channels"'),
        defaults='round-to = 16\nformats = "onnx"\nlatency-runs = 0\n',
    )
    result = batch(tmp_path, monkeypatch, path)
    assert result.exit_code == 0, result.output
    u, c = json.loads((tmp_path / "batch.json").read_text())["jobs"]
    assert json.loads((tmp_path / "out/u/report.json").read_text())["config"]["round_to"] is None
    assert json.loads((tmp_path / "out/c/report.json").read_text())["config"]["round_to"] == 16
    (tmp_path / "batch.json").unlink()
    path.write_text(job("builtin:lenet", "out/u2", "round-to = 8"))
    result = batch(tmp_path, monkeypatch, path)
    assert result.exit_code == 2 and "[[jobs]] #1: --round-to rounds channel counts" in result.output
