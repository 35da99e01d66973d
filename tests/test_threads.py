"""--threads: the usable-CPU count (affinity, cgroup quotas) from fake files, the setting's
checks, and that the thread count reaches torch and onnxruntime but no hashed byte."""

import json
import os

import pytest
import torch

from secateurs import cpus
from secateurs.config import RunConfig
from secateurs.errors import UsageError


@pytest.fixture
def affinity(monkeypatch):
    """Pretend the process may run on ``n`` CPUs."""

    def set_to(n):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(n)), raising=False)

    return set_to


@pytest.fixture
def restore_threads():
    before_torch, before_ort = torch.get_num_threads(), cpus._onnxruntime_threads
    yield
    torch.set_num_threads(before_torch)
    cpus._onnxruntime_threads = before_ort


def write(root, name, text):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    "cpu_max, expected",
    [("max 100000", 8), ("200000 100000", 2), ("150000 100000", 1), ("50000 100000", 1), ("800000 50000", 8)],
)
def test_cgroup_v2_quota(tmp_path, affinity, cpu_max, expected):
    affinity(8)
    write(tmp_path, "cpu.max", cpu_max + "\n")
    assert cpus.usable(tmp_path) == expected


@pytest.mark.parametrize("quota, expected", [("-1", 6), ("300000", 3), ("10000", 1)])
@pytest.mark.parametrize("folder", ["cpu", "cpu,cpuacct", "."])
def test_cgroup_v1_quota(tmp_path, affinity, folder, quota, expected):
    affinity(6)
    write(tmp_path, f"{folder}/cpu.cfs_quota_us", quota)
    write(tmp_path, f"{folder}/cpu.cfs_period_us", "100000")
    assert cpus.usable(tmp_path) == expected


def test_the_smallest_limit_wins(tmp_path, affinity):
    affinity(2)
    write(tmp_path, "cpu.max", "400000 100000")  # 4 CPUs of quota, 2 in the mask
    assert cpus.usable(tmp_path) == 2
    write(tmp_path, "cpu/cpu.cfs_quota_us", "100000")
    write(tmp_path, "cpu/cpu.cfs_period_us", "100000")
    assert cpus.usable(tmp_path) == 1


@pytest.mark.parametrize("text", ["", "garbage", "max", "100000 0", "-5 100000", "1.5 1"])
def test_unreadable_quota_files_are_ignored(tmp_path, affinity, text):
    affinity(3)
    write(tmp_path, "cpu.max", text)
    assert cpus.usable(tmp_path) == 3


def test_no_affinity_call_falls_back_to_cpu_count(tmp_path, monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 5)
    assert cpus.usable(tmp_path) == 5
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert cpus.usable(tmp_path) == 1


def test_resolve_and_check(tmp_path, affinity):
    affinity(4)
    assert cpus.resolve(None, tmp_path) == 4
    assert cpus.resolve(3, tmp_path) == 3  # more than usable is the user's call, kept as given
    for bad in (0, -1, True, 1.5, "2"):
        with pytest.raises(UsageError, match="--threads must be an integer >= 1"):
            cpus.resolve(bad, tmp_path)
    with pytest.raises(UsageError, match="--threads"):
        RunConfig(model="builtin:lenet", out=tmp_path, threads=0)


@pytest.mark.parametrize("command", [["run", "builtin:lenet"], ["verify", "."], ["validate", "."]])
def test_a_bad_thread_count_is_a_usage_error(cli, command):
    result = cli(*command, "--threads", "0")
    assert result.exit_code == 2
    assert "--threads" in result.output and "0" in result.output


def test_threads_reach_torch_and_onnxruntime_but_not_the_digest(tmp_path, restore_threads):
    from secateurs.pipeline.runner import execute, run_stages
    from secateurs.validators.onnxruntime_run import session_options

    manifests = {}
    for n in (1, 2):
        cfg = RunConfig(
            model="tests.models:residual",
            out=tmp_path / str(n),
            amount=0.4,
            threads=n,
            exporter="torchscript",
        )
        execute(cfg, run_stages(cfg))
        assert torch.get_num_threads() == n
        assert session_options().intra_op_num_threads == n
        manifests[n] = json.loads((cfg.out / "manifest.json").read_text())
        assert manifests[n]["run"]["threads"] == n
        assert manifests[n]["run"]["usable_cpus"] == cpus.usable()
        report = json.loads((cfg.out / "report.json").read_text())
        assert "threads" not in report["config"]
    assert manifests[1]["digest"] == manifests[2]["digest"]
    assert manifests[1]["files"] == manifests[2]["files"]


def test_the_default_is_the_usable_count(tmp_path, restore_threads):
    from secateurs.pipeline.runner import execute

    cfg = RunConfig(model="tests.models:plain", out=tmp_path / "o", formats=("onnx",), exporter="torchscript")
    execute(cfg, ["load", "prune", "export"])
    assert json.loads((cfg.out / "manifest.json").read_text())["run"]["threads"] == cpus.usable()
    assert torch.get_num_threads() == cpus.usable()


def test_verify_takes_threads(cli, tmp_path, restore_threads):
    args = ("tests.models:plain", "--formats", "onnx", "--exporter", "torchscript")
    assert cli("run", *args, "--out", "o", "-q").exit_code == 0
    result = cli("verify", "o", "--threads", "1")
    assert result.exit_code == 0, result.output
    assert cpus.onnxruntime_threads() == 1
