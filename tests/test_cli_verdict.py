"""The verdict line every pipeline command ends with, what a failure prints, and the
recommended artifact (secateurs.report.recommend)."""

import json
import re

import pytest

from secateurs.validators.results import check_failed

FAST = ("--formats", "onnx,bitmask-onnx,spz", "--exporter", "torchscript")
DIGEST = re.compile(r"digest ([0-9a-f]{64})")


def digest_of(path):
    return json.loads((path / "manifest.json").read_text())["digest"]


@pytest.fixture
def off_by_one(monkeypatch):
    """Every onnxruntime output 1.0 away from PyTorch's: validation fails with known numbers."""
    from secateurs.validators import onnxruntime_run

    real = onnxruntime_run.compare_outputs
    monkeypatch.setattr(
        onnxruntime_run,
        "compare_outputs",
        lambda got, ref, atol, rtol: real({k: v + 1 for k, v in got.items()}, ref, atol, rtol),
    )


def test_run_ends_with_the_verdict_and_the_digest_verify_wants(cli, tmp_path):
    result = cli("run", "tests.models:plain", *FAST, "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # --quiet: the verdict is the one line left
    (line,) = result.stdout.strip().splitlines()
    status, out, recommended, digest, took = line.split(" | ")
    assert (status, out) == ("PASSED", "o")
    report = json.loads((tmp_path / "o/report.json").read_text())
    sizes = {a["file"]: a["size"] for a in report["artifacts"]}
    best = min(
        ("model.onnx", "model.bitmask.onnx"), key=sizes.get
    )  # .spz is smaller, but no runtime loads it
    ratio = sizes[best] / sizes["model.onnx"]
    assert recommended.startswith(f"recommended {best} (") and f"{ratio:.3f}x model.onnx)" in recommended
    assert digest == f"digest {digest_of(tmp_path / 'o')}"
    assert re.fullmatch(r"\d+\.\d s", took)
    pinned = cli("verify", "o", "--expect-digest", DIGEST.search(line).group(1))
    assert pinned.exit_code == 0, pinned.output


def test_split_stages_each_end_with_a_verdict(cli, tmp_path):
    result = cli("prune", "tests.models:residual", "--amount", "0.4", "--out", "w", "-q")
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    assert line.startswith("PRUNED, not validated | w | ") and "of the pruned Conv2d weights are zero" in line
    assert line.endswith("| next: secateurs export w") and DIGEST.search(line).group(1) == digest_of(
        tmp_path / "w"
    )

    result = cli("export", "w", "--exporter", "torchscript", "--formats", "onnx,bitmask-onnx", "-q")
    line = result.stdout.strip()
    assert line.startswith("EXPORTED, not validated | w | 3 artifacts: ") and "model.bitmask.onnx" in line
    assert line.endswith("| next: secateurs validate w") and DIGEST.search(line).group(1) == digest_of(
        tmp_path / "w"
    )

    result = cli("validate", "w", "-q")
    line = result.stdout.strip()
    assert line.startswith("PASSED | w | recommended model.")
    assert DIGEST.search(line).group(1) == digest_of(tmp_path / "w")

    result = cli("report", "w")
    last = result.stdout.strip().splitlines()[-1]
    assert result.exit_code == 0 and last.startswith("PASSED | w | recommended model.")
    assert DIGEST.search(last).group(1) == digest_of(tmp_path / "w")  # the manifest it just rewrote


def test_validation_failure_prints_its_checks_and_one_distinct_line(cli, tmp_path, off_by_one):
    result = cli("run", "tests.models:plain", *FAST, "--out", "o")
    assert result.exit_code == 1, result.output
    report = json.loads((tmp_path / "o.failed/report.json").read_text())
    failing = [c for c in report["validation"]["checks"] if check_failed(c)]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(failing) + 1  # each failing check, then the verdict
    for line, check in zip(lines, failing):
        abs_err = check["outputs"][0]["max_abs"]
        assert line.startswith(f"FAIL  {check['artifact']}") and check["name"] in line
        assert f"max abs {abs_err:.2e}" in line and "elements outside atol 0.0001, rtol 0.001" in line
    assert lines[-1].startswith(f"FAILED (validation) | o.failed | {len(failing)} of ")
    assert "nothing written to o" in lines[-1]

    error = result.stderr.strip().splitlines()[-1]
    names = sorted({c["name"] for c in failing})
    assert len(names) < len(failing)  # the same check ran several inputs and artifacts
    assert f"{len(failing)} of {len(report['validation']['checks'])} checks, {len(names)} distinct" in error
    for name in names:
        assert error.count(f"{name} on ") == 1  # each distinct failure named once
    worst = max(o["max_abs"] for c in failing for o in c["outputs"])
    assert f"worst max abs {worst:.2e}, max rel " in error and "(atol 0.0001, rtol 0.001)" in error

    result = cli("report", "o.failed")
    last = result.stdout.strip().splitlines()[-1]
    assert result.exit_code == 0 and last.startswith(
        "FAILED (validation) | o.failed | not for deploying | digest "
    )


def test_quiet_failure_prints_the_verdict_and_the_error_line_only(cli, off_by_one):
    result = cli("run", "tests.models:plain", *FAST, "--out", "o", "-q")
    assert result.exit_code == 1
    assert len(result.stdout.strip().splitlines()) == 1 and result.stdout.startswith("FAILED (validation)")
    assert len(result.stderr.strip().splitlines()) == 1 and "validation failed" in result.stderr


def test_success_removes_a_stale_failed_directory_and_says_so(cli, tmp_path, monkeypatch):
    from secateurs.validators import onnxruntime_run

    real = onnxruntime_run.compare_outputs
    with monkeypatch.context() as m:
        m.setattr(
            onnxruntime_run,
            "compare_outputs",
            lambda g, r, a, t: real({k: v + 1 for k, v in g.items()}, r, a, t),
        )
        assert cli("run", "tests.models:plain", *FAST, "--out", "o", "-q").exit_code == 1
    assert (tmp_path / "o.failed/report.json").is_file()
    result = cli("run", "tests.models:plain", *FAST, "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "o.failed").exists()
    assert result.stderr.strip() == "secateurs: removed o.failed, left by an earlier failed run"
    assert json.loads((tmp_path / "o/report.json").read_text())["status"] == "passed"


def test_a_symlink_named_like_failed_is_not_ours(tmp_path):
    from secateurs import files

    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere/keep").write_text("x")
    (tmp_path / "o.failed").symlink_to(tmp_path / "elsewhere")
    assert files.remove_stale(tmp_path / "o.failed") is False
    assert (tmp_path / "elsewhere/keep").read_text() == "x"
    assert files.remove_stale(tmp_path / "absent.failed") is False


def _report(checks, artifacts):
    return {
        "validation": {
            "passed": bool(checks) and all(p for _, p in checks),
            "checks": [{"artifact": a, "name": "n", "passed": p} for a, p in checks],
        },
        "artifacts": [{"name": n, "file": f, "size": s} for n, f, s in artifacts],
    }


ARTIFACTS = [
    ("onnx", "model.onnx", 1000),
    ("sparse-onnx", "model.sparse.onnx", 900),
    ("bitmask-onnx", "model.bitmask.onnx", 700),
    ("spz", "model.onnx.spz", 400),
    ("npz", "weights.npz", 100),
]


@pytest.mark.parametrize(
    ("checks", "expected"),
    [
        ([(f, True) for _, f, _ in ARTIFACTS], ("model.bitmask.onnx", 700, 0.7)),
        ([("model.bitmask.onnx", False), ("model.sparse.onnx", True), ("model.onnx", True)], None),
        ([("model.onnx", True)], ("model.onnx", 1000, 1.0)),  # unchecked artifacts are not recommended
        ([("(pytorch model)", False), ("model.onnx", True)], None),  # no reference: nothing passed
        ([], None),  # not validated
    ],
    ids=[
        "smallest-onnxruntime-loadable",
        "a-failed-run-recommends-nothing",
        "only-checked",
        "forward-failed",
        "unvalidated",
    ],
)
def test_recommended_artifact(checks, expected):
    from secateurs.report.recommend import recommended_artifact

    assert recommended_artifact(_report(checks, ARTIFACTS)) == expected


def test_failure_line_treats_nan_as_the_worst_error():
    from secateurs.report.failures import validation_line

    def check(artifact, max_abs):
        out = {"name": "output", "passed": False, "max_abs": max_abs, "max_rel": 0.5, "n_bad": 1, "numel": 4}
        return {
            "artifact": artifact,
            "name": "onnxruntime vs torch @ 1x3",
            "passed": False,
            "detail": "d",
            "outputs": [{**out, "atol": 1e-4, "rtol": 1e-3}],
        }

    line = validation_line({"checks": [check("model.onnx", 0.25), check("model.bitmask.onnx", "nan")]})
    assert line == (
        "validation failed: 2 of 2 checks: onnxruntime vs torch @ 1x3 on model.onnx, model.bitmask.onnx"
        " (2 checks); worst max abs nan, max rel 5.00e-01 (atol 0.0001, rtol 0.001)"
    )
