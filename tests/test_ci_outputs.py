"""CI outputs: JUnit XML (--junit) and the GitHub Actions step summary, for passing and failing runs."""

import json
import xml.etree.ElementTree as ET

import pytest

from secateurs.ci import step_summary
from secateurs.ci.junit import write_junit
from secateurs.errors import OutputError
from secateurs.pipeline.validate import input_shapes
from secateurs.validators.results import Check, OutputCompare

FAST = ("--formats", "onnx,spz", "--exporter", "torchscript", "-q")


@pytest.fixture(autouse=True)
def _no_step_summary(monkeypatch):
    """Tests must not write into the summary of the CI job running them."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def parse(path):
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    return root, suite


def cases(suite):
    """{(classname, name): failure element or None}"""
    return {(c.get("classname"), c.get("name")): c.find("failure") for c in suite.findall("testcase")}


def compared(name, passed, message=""):
    return OutputCompare(
        name, passed, max_abs=0.25, max_rel=2.5, n_bad=0 if passed else 3, numel=40, atol=1e-4, rtol=1e-3,
        message=message,
    )  # fmt: skip


def test_one_testcase_per_output_check_and_gate(tmp_path):
    checks = [
        Check("model.onnx", "onnx.checker (full_check)", True),
        Check(
            "model.onnx",
            "onnxruntime vs torch @ 1x3x8x8",
            False,
            "logits: 3 of 40 elements outside tolerance",
            [compared("logits", False, "3 of 40 elements outside tolerance"), compared("aux", True)],
        ),
        Check("model.onnx.spz", "unpacks to model.onnx (sha256)", False, "sha256 differs for model.onnx"),
    ]
    gates = [
        {"judged": "onnx", "metric": "top-1 agreement", "value": 0.9, "limit": 0.99, "passed": False,
         "detail": "top-1 agreement 0.9000 is below the budget 0.99 by 0.0900"},
        {"judged": "pytorch", "metric": "top-1 agreement", "value": 1.0, "limit": 0.99, "passed": True,
         "detail": "top-1 agreement 1.0000 >= 0.99"},
    ]  # fmt: skip
    write_junit(tmp_path / "reports/nested/junit.xml", "secateurs demo", checks, gates)
    root, suite = parse(tmp_path / "reports/nested/junit.xml")
    assert suite.get("name") == "secateurs demo"
    assert (root.get("tests"), root.get("failures")) == ("6", "3")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "6", "3", "0", "0",
    )  # fmt: skip
    got = cases(suite)
    assert set(got) == {
        ("model.onnx", "onnx.checker (full_check)"),
        ("model.onnx", "onnxruntime vs torch @ 1x3x8x8 [logits]"),
        ("model.onnx", "onnxruntime vs torch @ 1x3x8x8 [aux]"),
        ("model.onnx.spz", "unpacks to model.onnx (sha256)"),
        ("accuracy gate", "onnx: top-1 agreement"),
        ("accuracy gate", "pytorch: top-1 agreement"),
    }
    failure = got["model.onnx", "onnxruntime vs torch @ 1x3x8x8 [logits]"]
    message = failure.get("message")
    assert "3 of 40 elements outside tolerance" in message
    assert all(f"{k}=" in message for k in ("max_abs", "max_rel", "atol", "rtol"))
    assert "max_abs=0.25" in message and "rtol=0.001" in message
    assert "n_bad=3" in failure.text
    assert got["model.onnx", "onnxruntime vs torch @ 1x3x8x8 [aux]"] is None
    assert got["model.onnx.spz", "unpacks to model.onnx (sha256)"].get("message") == (
        "sha256 differs for model.onnx"
    )
    gate = got["accuracy gate", "onnx: top-1 agreement"]
    assert "below the budget 0.99" in gate.get("message") and gate.get("type") == "GateFailed"
    assert failure.get("type") == "ValidationFailed"
    assert got["accuracy gate", "pytorch: top-1 agreement"] is None


def test_session_failure_without_outputs_is_a_failing_testcase(tmp_path):
    check = Check("model.sparse.onnx", "onnxruntime vs torch", False, "Fail: cannot create session")
    write_junit(tmp_path / "j.xml", "s", [check])
    _, suite = parse(tmp_path / "j.xml")
    (failure,) = cases(suite).values()
    assert failure is not None and failure.get("message") == "Fail: cannot create session"
    assert suite.get("failures") == "1"


def test_failed_check_whose_outputs_all_passed_still_fails(tmp_path):
    check = Check("model.onnx", "vs torch", False, "structure", [compared("y", True)])
    write_junit(tmp_path / "j.xml", "s", [check])
    _, suite = parse(tmp_path / "j.xml")
    assert suite.get("failures") == "1"
    assert cases(suite)["model.onnx", "vs torch"].get("message") == "structure"


def test_repeated_check_names_are_made_unique(tmp_path):
    """One check per seeded input at the same shape: reporters would merge equal names."""
    checks = [Check("model.onnx", "vs torch @ 1x3", True, "", [compared("y", True)]) for _ in range(3)]
    checks.append(Check("model.onnx", "odd", True, "", [compared("y", True), compared("y", True)]))
    write_junit(tmp_path / "j.xml", "s", checks)
    _, suite = parse(tmp_path / "j.xml")
    assert [c.get("name") for c in suite] == [
        "vs torch @ 1x3 [y]",
        "vs torch @ 1x3 #2 [y]",
        "vs torch @ 1x3 #3 [y]",
        "odd [y]",
        "odd [y] #2",
    ]


def test_special_characters_are_escaped(tmp_path):
    nasty = "a<b>&\"c' ]]> \x1b[31m\x00 é \ud800"
    check = Check(f"m{nasty}.onnx", f"check {nasty}", False, f"detail {nasty}\nline 2")
    write_junit(tmp_path / "j.xml", f"suite {nasty}", [check], [{"judged": nasty, "passed": False}])
    root, suite = parse(tmp_path / "j.xml")  # parses: nothing unescaped, no invalid XML characters
    assert suite.get("name").startswith("suite a<b>&\"c' ]]> \\x1b[31m\\x00 é \\xd800")
    (case, gate) = suite
    assert case.get("classname") == "ma<b>&\"c' ]]> \\x1b[31m\\x00 é \\xd800.onnx"
    assert case.find("failure").get("message").endswith("\nline 2")  # newline kept in the attribute
    assert gate.get("classname") == "accuracy gate" and gate.find("failure") is not None


def test_write_is_deterministic_and_replaces(tmp_path):
    path = tmp_path / "j.xml"
    path.write_text("old")
    write_junit(path, "s", [Check("a", "b", True)])
    first = path.read_bytes()
    write_junit(path, "s", [Check("a", "b", True)])
    assert path.read_bytes() == first and first.startswith(b"<?xml")


def test_unwritable_junit_is_an_output_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="file"):
        write_junit(tmp_path / "file/j.xml", "s", [])


def test_step_summary_appends(tmp_path):
    path = tmp_path / "summary.md"
    path.write_text("# earlier step\n")
    step_summary.append(path, "## one")
    step_summary.append(path, "## two\n")
    assert path.read_text() == "# earlier step\n## one\n## two\n"


def test_step_summary_error_names_the_file(tmp_path):
    with pytest.raises(OutputError, match="nowhere/summary.md"):
        step_summary.append(tmp_path / "nowhere/summary.md", "x")


def test_run_writes_junit_and_step_summary(cli, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("# from an earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = cli("run", "tests.models:plain", *FAST, "--out", "o", "--junit", "reports/j.xml")
    assert result.exit_code == 0, result.output
    _, suite = parse(tmp_path / "reports/j.xml")
    got = cases(suite)
    assert suite.get("failures") == "0" and suite.get("name") == "secateurs tests.models:plain"
    outputs = [name for cls, name in got if cls == "model.onnx" and name.endswith("[output]")]
    assert len(outputs) == len(input_shapes((1, 3, 12, 12), dynamic_hw=False))  # one check per input
    assert ("model.onnx.spz", "unpacks to model.onnx (sha256)") in got
    assert ("model.onnx", "onnx.checker (full_check)") in got
    assert not any(cls == "accuracy gate" for cls, _ in got)
    text = summary.read_text()
    assert text.startswith("# from an earlier step\n")
    assert "# secateurs report: tests.models:plain (passed)" in text
    assert "## Stage timings" in text and "| export |" in text
    assert not (tmp_path / "o/j.xml").exists()


def test_junit_inside_out_is_refused_before_anything_runs(cli, tmp_path):
    result = cli("run", "tests.models:plain", *FAST, "--out", "o", "--junit", "o/reports/j.xml")
    assert result.exit_code == 2 and "write it outside --out" in result.output
    assert not (tmp_path / "o").exists()


def test_failed_validation_still_writes_junit_and_summary(cli, tmp_path, monkeypatch):
    """Outputs shifted by 1 fail every onnxruntime comparison, whatever the platform's rounding."""
    from secateurs.validators import onnxruntime_run

    real = onnxruntime_run.compare_outputs
    monkeypatch.setattr(
        onnxruntime_run,
        "compare_outputs",
        lambda got, ref, atol, rtol: real({k: v + 1 for k, v in got.items()}, ref, atol, rtol),
    )
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = cli("run", "tests.models:plain", *FAST, "--out", "o", "--junit", "j.xml")
    assert result.exit_code == 1, result.output
    assert "validation failed" in result.stderr
    _, suite = parse(tmp_path / "j.xml")
    got = cases(suite)
    failing = {k: f for k, f in got.items() if f is not None}
    n = len(input_shapes((1, 3, 12, 12), dynamic_hw=False))
    assert len(failing) == n and int(suite.get("failures")) == n
    assert all(cls == "model.onnx" and name.endswith("[output]") for cls, name in failing)
    assert all("max_abs=" in f.get("message") for f in failing.values())
    assert got["model.onnx.spz", "unpacks to model.onnx (sha256)"] is None
    assert "# secateurs report: tests.models:plain (failed)" in summary.read_text()
    assert "## Stage timings" in summary.read_text()


def test_split_validate_writes_junit(cli, tmp_path):
    assert cli("prune", "tests.models:plain", "--out", "w", "-q").exit_code == 0
    assert cli("export", "w", "--formats", "onnx", "--exporter", "torchscript", "-q").exit_code == 0
    result = cli("validate", "w", "--junit", "j.xml", "-q")
    assert result.exit_code == 0, result.output
    _, suite = parse(tmp_path / "j.xml")
    assert suite.get("failures") == "0"
    assert ("model.onnx", "onnxruntime vs torch @ 1x3x12x12 [output]") in cases(suite)


def test_gates_become_testcases(cli, tmp_path):
    gate = ("--eval", "random:16", "--min-agreement")
    result = cli("run", "tests.models:residual", *FAST, *gate, "0", "--out", "o", "--junit", "j.xml")
    assert result.exit_code == 0, result.output
    _, suite = parse(tmp_path / "j.xml")
    got = cases(suite)
    assert got["accuracy gate", "onnx: top-1 agreement"] is None
    assert got["accuracy gate", "pytorch: top-1 agreement"] is None


def test_failed_gate_still_writes_junit(cli, tmp_path):
    """tests.models:plain outputs feature maps, not [N, classes] scores: agreement is undefined."""
    gate = ("--eval", "random:16", "--min-agreement", "0.5")
    result = cli("run", "tests.models:plain", *FAST, *gate, "--out", "o", "--junit", "j.xml")
    assert result.exit_code == 6, result.output
    _, suite = parse(tmp_path / "j.xml")
    got = cases(suite)
    failing = {k: f for k, f in got.items() if f is not None}
    assert set(failing) == {
        ("accuracy gate", "onnx: top-1 agreement"),
        ("accuracy gate", "pytorch: top-1 agreement"),
    }
    assert all("undefined" in f.get("message") for f in failing.values())
    report = json.loads((tmp_path / "o.failed/report.json").read_text())
    assert report["status"] == "gate-failed"


def test_ci_modules_need_no_heavy_dependencies():
    """`secateurs verify` writes JUnit on deploy machines that have no PyTorch (secateurs[runtime])."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'torch', 'numpy', 'onnx', 'onnxruntime', 'scipy'}:\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import secateurs.ci.junit, secateurs.ci.step_summary\n"
    )
    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
