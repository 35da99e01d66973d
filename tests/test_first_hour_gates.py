"""Issue 12, a new user's first hour: gates that must not pass on nothing, and options
checked before the model loads."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from secateurs.config import RunConfig
from secateurs.errors import UsageError
from tests import models

COUNTED = "tests.models:counted"


@pytest.fixture
def loads():
    """tests.models.LOADS, emptied; a test asserts it stays empty (the model never loaded)."""
    models.LOADS.clear()
    yield models.LOADS
    models.LOADS.clear()


# --- options checked before the model loads: exit 2, model never loaded ---------------------


EITHER = [
    (["--exclude", "("], "--exclude '(' is not a valid regular expression"),
    (["--recipe", "missing.json"], "--recipe missing.json: file not found"),
]
RUN_ONLY = [
    (["--formats", "spz"], "--formats spz is derived from model.onnx; add onnx to --formats"),
    (["--formats", "onnx,foo"], "unknown format 'foo'; choose from: onnx"),
    (["--formats", ","], "--formats names no format"),
    (["--formats", "npz"], "--formats npz has no onnx: validation runs model.onnx"),
    (["--eval", "missing.npz"], "--eval missing.npz: file not found"),
    (["--eval", "random:10", "--auto", "--min-agreement", "0.9", "--recipe", "r.json"], "r.json"),
]


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [(c, a, m) for c in ("run", "prune") for a, m in EITHER] + [("run", a, m) for a, m in RUN_ONLY],
)
def test_checkable_options_fail_before_the_model_loads(cli, tmp_path, loads, command, args, message):
    result = cli(command, COUNTED, *args, "--out", "o")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert loads == []  # failed on the options alone
    assert not list(tmp_path.glob("o*"))


TUNING = [
    (["--exclude", "("], "--exclude '(' is not a valid regular expression"),
    (["--eval", "missing.npz"], "--eval missing.npz: file not found"),
    (["--eval", "random:0"], "--eval random:N needs 1 <="),
    (["--max-accuracy-drop", "0.01"], "--max-accuracy-drop needs --eval DATA"),
    (["--amounts", "0.5", "--eval", "random:8", "--min-agreement", "2"], "--min-agreement must be a finite"),
]


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [("sweep", a, m) for a, m in TUNING] + [("sensitivity", a, m) for a, m in TUNING[:3]],
)
def test_tuning_options_fail_before_the_model_loads(cli, tmp_path, loads, command, args, message):
    extra = [] if "--eval" in args else ["--eval", "random:8"] if command == "sensitivity" else []
    result = cli(command, COUNTED, *args, *extra, "--out", "o")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert loads == [] and not list(tmp_path.glob("o*"))


def test_the_counting_factory_counts(cli, loads):
    """The fixture above proves something only if a load is recorded."""
    assert cli("prune", COUNTED, "--out", "o", "-q").exit_code == 0
    assert loads == ["counted"]


def test_python_api_gets_the_same_checks(tmp_path, loads):
    from secateurs.pipeline.runner import execute

    with pytest.raises(UsageError, match="not a valid regular expression"):
        RunConfig(model=COUNTED, out=tmp_path / "o", exclude="(")
    with pytest.raises(UsageError, match="unknown format 'foo'"):
        RunConfig(model=COUNTED, out=tmp_path / "o", formats=("onnx", "foo"))
    for cfg, message in [
        (RunConfig(model=COUNTED, out=tmp_path / "o", formats=("spz",)), "add onnx"),
        (RunConfig(model=COUNTED, out=tmp_path / "o", recipe=tmp_path / "r.json"), "r.json: file not found"),
        (RunConfig(model=COUNTED, out=tmp_path / "o", eval="d.npz"), "d.npz: file not found"),
    ]:
        with pytest.raises(UsageError, match=message):
            execute(cfg, ["load", "reference", "prune", "export", "validate", "evaluate"])
    assert loads == [] and not (tmp_path / "o").exists()


def test_a_resumed_stage_does_not_need_files_it_does_not_read(cli, tmp_path):
    """The recipe was read by prune; validate and export must not fail because it moved."""
    recipe = tmp_path / "r.json"
    recipe.write_text('{"layers": {"0": 0.5}}')
    assert cli("prune", "tests.models:plain", "--recipe", recipe, "--out", "w", "-q").exit_code == 0
    recipe.unlink()
    assert cli("export", "w", "--formats", "onnx", "--exporter", "torchscript", "-q").exit_code == 0
    assert cli("export", "w", "--formats", "spz", "-q").exit_code == 0  # model.onnx is already there
    assert cli("validate", "w", "-q").exit_code == 0


# --- --exclude: listed as excluded; a pattern matching nothing is a usage error ----------------


@pytest.mark.parametrize("command", ["run", "prune"])
def test_exclude_matching_nothing_is_a_usage_error_naming_it(cli, tmp_path, command):
    result = cli(command, "tests.models:plain", "--exclude", "^stem", "--out", "o")
    assert result.exit_code == 2, result.output
    assert "--exclude '^stem' matches no Conv2d layer; the Conv2d layers are: 0, 2" in result.stderr
    assert not list(tmp_path.glob("o*"))


def test_exclude_matching_nothing_fails_in_the_model_library():
    """find_conv_weights is what run, prune, sweep and sensitivity share."""
    from secateurs.model.conv_targets import find_conv_weights

    with pytest.raises(UsageError, match="'nope' matches no Conv2d layer"):
        find_conv_weights(models.plain(), "nope")
    assert [c.layer for c in find_conv_weights(models.plain(), "^0$")[0]] == ["2"]


def test_sweep_and_sensitivity_refuse_an_exclude_matching_nothing(cli):
    for command in ("sweep", "sensitivity"):
        result = cli(command, "tests.models:plain", "--eval", "random:4", "--exclude", "zzz", "--out", "s")
        assert result.exit_code == 2, (command, result.output)
        assert "--exclude 'zzz' matches no Conv2d layer" in result.stderr


def test_excluded_layers_are_listed_as_excluded(cli, tmp_path):
    args = ("tests.models:residual", "--exclude", "^down", "--formats", "onnx", "--exporter", "torchscript")
    assert cli("run", *args, "--amount", "0.5", "--out", "o", "-q").exit_code == 0
    report = json.loads((tmp_path / "o/report.json").read_text())
    assert [r["name"] for r in report["excluded_layers"]] == ["down"]
    excluded = report["excluded_layers"][0]
    assert excluded["target"] == 0 and excluded["pruned"] == 0 and excluded["sparsity"] == 0
    assert "down" not in {r["name"] for r in report["layers"]}
    md = (tmp_path / "o/report.md").read_text()
    assert "| down | 16x8x1x1 | 128 | excluded | 0.00% | 0 |" in md
    assert ">excluded<" in (tmp_path / "o/report.html").read_text()
    # the split stages carry the list through the stage state
    assert cli("validate", "o", "-q").exit_code == 0
    again = json.loads((tmp_path / "o/report.json").read_text())
    assert again["excluded_layers"] == report["excluded_layers"]


# --- --amount 1 validates wherever 0.5 does -----------------------------------------------------


@pytest.mark.parametrize("factory", models.ZOO, ids=lambda f: f.__name__)
def test_zoo_validates_at_amount_one(tmp_path, factory):
    """On torchscript, the exporter that deduplicates equal initializers; dynamo keeps each
    parameter's name, so its match is by name (builtin:resnet runs both exporters below)."""
    from secateurs.pipeline.runner import execute

    exporter = "torchscript"

    cfg = RunConfig(
        model=f"tests.models:{factory.__name__}",
        out=tmp_path / "o",
        amount=1.0,
        exporter=exporter,
        formats=("onnx",),
    )
    ctx, report = execute(cfg, ["load", "prune", "export", "validate"])
    assert report["status"] == "passed"
    survives = [c for c in report["validation"]["checks"] if c["name"] == "sparsity survives export"]
    assert survives and survives[0]["passed"]
    assert set(ctx.onnx_weights) == {r.name for r in ctx.layers}  # every pruned layer found


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_resnet_with_batchnorm_validates_at_amount_one(shared_runs, exporter):
    """torchscript stores the equal all-zero weights once and feeds other convs through Identity."""
    settings = {"exporter": exporter} if exporter == "torchscript" else {}  # dynamo: the default's run
    out, ctx, report = shared_runs.execute(
        "builtin:resnet", ["load", "prune", "export", "validate"], amount=1.0, **settings
    )
    assert report["status"] == "passed", [c for c in report["validation"]["checks"] if not c["passed"]]
    assert len(ctx.onnx_weights) == len(ctx.layers) == 12


def _graph(weights: dict, convs: list[tuple[str, str]], identities: dict | None = None):
    """A Conv chain: ``convs`` are (node name, weight input); ``identities`` output -> input."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("Identity", [src], [dst]) for dst, src in (identities or {}).items()]
    x = "input"
    for i, (name, w) in enumerate(convs):
        nodes.append(helper.make_node("Conv", [x, w], [f"y{i}"], name=name, pads=[1, 1, 1, 1]))
        x = f"y{i}"
    inits = [numpy_helper.from_array(np.asarray(a, np.float32), n) for n, a in weights.items()]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 2, 4, 4])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)],
        inits,
    )
    return helper.make_model(graph)


def test_match_follows_identity_and_claims_each_conv_once():
    import numpy as np

    from secateurs.validators.pruned_map import match_pruned

    zero = np.zeros((2, 2, 3, 3), np.float32)
    model = _graph({"w": zero}, [("a", "w"), ("b", "w_alias")], {"w_alias": "w"})
    found = match_pruned(model, {"a": zero, "b": zero}, {"a": "a.weight", "b": "b.weight"})
    assert found.matches == {"a": "w", "b": "w"} and not found.missing and not found.lossy
    # deduplicated without an Identity, under the first parameter's name (both convs read it)
    model = _graph({"a.weight": zero}, [("a", "a.weight"), ("b", "a.weight")])
    found = match_pruned(model, {"a": zero, "b": zero}, {"a": "a.weight", "b": "b.weight"})
    assert found.matches == {"a": "a.weight", "b": "a.weight"} and not found.missing
    # a third all-zero layer has no Conv node left to stand for it: not proven
    found = match_pruned(model, {"a": zero, "b": zero, "c": zero})
    assert found.missing == ["c"]
    # an all-zero layer against a graph whose second conv is dense: zeros lost, not a pass
    dense = np.ones_like(zero)
    model = _graph({"w": zero, "v": dense}, [("a", "w"), ("b", "v")])
    found = match_pruned(model, {"a": zero, "b": zero})
    assert found.matches == {"a": "w"} and found.lossy == ["b"]


# --- validate checks every promised artifact; a check over nothing is n/a, not a pass ---------


def test_validate_without_an_onnx_artifact_fails_naming_export(cli, tmp_path):
    """A CI pipeline that lost its export job: prune, then validate."""
    assert cli("prune", "tests.models:plain", "--amount", "0.5", "--out", "w", "-q").exit_code == 0
    result = cli("validate", "w", "--junit", "j.xml", "-q")
    assert result.exit_code == 1, result.output
    assert "promised artifact present on model.onnx: not in w" in result.stderr
    assert "run `secateurs export w`" in result.stderr
    failed = json.loads((tmp_path / "w.failed/report.json").read_text())
    assert failed["status"] == "failed"
    assert json.loads((tmp_path / "w/report.json").read_text())["status"] == "unvalidated"  # untouched
    suite = ET.parse(tmp_path / "j.xml").getroot().find("testsuite")
    assert suite.get("failures") == "1"
    case = next(c for c in suite.iter("testcase") if c.get("classname") == "model.onnx")
    assert "secateurs export w" in case.find("failure").get("message")
    # once exported, the same directory validates
    assert cli("export", "w", "--formats", "onnx", "--exporter", "torchscript", "-q").exit_code == 0
    assert cli("validate", "w", "-q").exit_code == 0


def test_validate_fails_on_a_promised_artifact_that_is_gone(cli, tmp_path):
    args = ("tests.models:plain", "--formats", "onnx,spz", "--exporter", "torchscript", "--out", "w", "-q")
    assert cli("run", *args).exit_code == 0
    (tmp_path / "w/model.onnx.spz").unlink()
    result = cli("validate", "w", "-q")
    assert result.exit_code == 1
    assert "promised artifact present on model.onnx.spz" in result.stderr
    assert "run `secateurs export w --formats spz`" in result.stderr


def test_a_check_over_nothing_is_not_applicable_with_its_reason(cli, tmp_path):
    result = cli(
        "run",
        "tests.models:plain",
        "--amount",
        "0",
        "--exporter",
        "torchscript",
        "--junit",
        "j.xml",
        *models.EVERY_FORMAT,
        "--out",
        "o",
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o/report.json").read_text())
    v = report["validation"]
    na = [c for c in v["checks"] if not c["applicable"]]
    assert {(c["artifact"], c["name"]) for c in na} == {
        ("model.sparse.onnx", "encoded tensors decode bit-exact"),
        ("model.bitmask.onnx", "encoded tensors decode bit-exact"),
        ("model.onnx", "sparsity survives export"),
    }
    assert all(c["passed"] is False for c in na)  # not counted as passed ...
    assert v["passed"] is True and v["n_failed"] == 0 and v["n_not_applicable"] == 3  # ... nor failed
    assert report["status"] == "passed"
    reason = "the file kept all 2 pruned tensors dense because that was smaller"
    assert all(reason in c["detail"] for c in na if c["name"].startswith("encoded"))
    md = (tmp_path / "o/report.md").read_text()
    assert (
        f"| model.sparse.onnx | encoded tensors decode bit-exact | n/a |  |  |  | no tensor is encoded: {reason} |"
        in md
    )
    assert "3 not applicable" in (tmp_path / "o/report.html").read_text()
    assert "encoded tensors decode bit-exact     n/a" in result.stdout
    assert ">n/a<" in (tmp_path / "o/report.html").read_text()
    suite = ET.parse(tmp_path / "j.xml").getroot().find("testsuite")
    assert (suite.get("failures"), suite.get("skipped")) == ("0", "3")
    skipped = [c for c in suite.iter("testcase") if c.find("skipped") is not None]
    assert any(reason in c.find("skipped").get("message") for c in skipped)


def test_not_applicable_neither_passes_nor_fails():
    from secateurs.validators.results import Check, ValidationResult

    na = Check.not_applicable("f", "round trip", "nothing encoded")
    assert not na and na.verdict == "n/a" and not na.failed
    assert not ValidationResult([na])  # nothing passed: not a pass
    assert ValidationResult([na, Check("f", "other", True)])
    assert not ValidationResult([na, Check("f", "other", False)])
    assert ValidationResult([na, Check("f", "other", False)]).failures[0].name == "other"
    back = ValidationResult.from_json(ValidationResult([na]).to_json())
    assert back.checks[0].verdict == "n/a" and back.to_json()["n_not_applicable"] == 1


# --- --out that must not be replaced, a repeated --exclude, a gate-failed report ------------


@pytest.mark.parametrize("command", ["run", "prune", "sweep"])
def test_out_that_is_not_ours_is_refused_before_loading(cli, tmp_path, loads, command):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("years of work")
    (tmp_path / "sub").mkdir()
    for out in ("mine", ".", str(tmp_path.parent)):
        result = cli(command, COUNTED, "--out", out)
        assert result.exit_code == 2, (out, result.output)
        assert "replaced as a whole" in result.stderr and "Traceback" not in result.output
    assert (tmp_path / "mine" / "thesis.txt").read_text() == "years of work" and loads == []


def test_an_earlier_output_or_an_empty_directory_may_be_replaced(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    assert cli("prune", "tests.models:plain", "--out", "empty", "-q").exit_code == 0
    assert cli("prune", "tests.models:plain", "--out", "empty", "-q", "--amount", "0.5").exit_code == 0


@pytest.mark.parametrize("command", ["run", "prune", "sweep", "sensitivity"])
def test_a_repeated_exclude_is_refused_not_half_applied(cli, tmp_path, loads, command):
    data = [] if command == "prune" else ["--eval", "random:8"]
    result = cli(command, COUNTED, "--exclude", "^a$", "--exclude", "b", *data, "--out", "o")
    assert result.exit_code == 2, result.output
    assert "--exclude given 2 times; give one regular expression: --exclude '^a$|b'" in result.stderr
    assert loads == [] and not (tmp_path / "o").exists()


def test_exclude_from_the_settings_file(cli, tmp_path):
    (tmp_path / "secateurs.toml").write_text('exclude = "^stem$"\n')
    assert cli("prune", "tests.models:residual", "--out", "p", "-q").exit_code == 0
    report = json.loads((tmp_path / "p/report.json").read_text())
    assert report["config"]["exclude"] == "^stem$"
    assert [r["name"] for r in report["excluded_layers"]] == ["stem"]


def test_a_gate_failed_report_recommends_nothing_and_says_which_gate(cli, tmp_path):
    args = ["tests.models:plain", "--formats", "onnx", "--exporter", "torchscript", "--eval", "random:16"]
    result = cli("run", *args, "--min-agreement", "1.0", "--amount", "0.9", "--out", "o")
    assert result.exit_code == 6, result.output
    md = (tmp_path / "o.failed/report.md").read_text()
    assert "recommended artifact" not in md
    assert "accuracy gates" in md and "FAILED: top-1 agreement" in md


def test_an_amount_a_recipe_default_overrides_is_refused(cli, tmp_path, loads):
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"schema": "secateurs.recipe/1", "default": 0.5, "layers": {"0": 0.2}}))
    result = cli("prune", COUNTED, "--recipe", recipe, "--amount", "0.9", "--out", "o")
    assert result.exit_code == 2 and "--amount 0.9 would change nothing" in result.stderr
    assert "sets default 0.5" in result.stderr and loads == []
    assert cli("prune", COUNTED, "--recipe", recipe, "--out", "o", "-q").exit_code == 0  # the default applies
