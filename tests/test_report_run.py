"""The run report says what was done: a recipe where the amount would be, notes everywhere,
what each layer got in global scope, only the stages that ran, the recommended artifact,
and PASS/FAIL in colour on a terminal only."""

import json
import re

import pytest
import torch

from secateurs import exporters
from secateurs.config import RunConfig
from secateurs.pipeline.runner import execute
from secateurs.report import render_html, render_markdown, render_terminal
from secateurs.report.recommend import recommended_artifact
from tests import models

PRUNE_ONLY = ["load", "prune", "save"]


def pruned(out, **settings):
    """The PRUNE_ONLY stages on tests.models:residual. Their save stage writes every format of
    the config, model.onnx with the faster torchscript exporter (these tests read the report)."""
    return execute(RunConfig("tests.models:residual", out, exporter="torchscript", **settings), PRUNE_ONLY)


def renderings(out, data) -> dict[str, str]:
    """What a user reads: the terminal summary, report.md and report.html (as the runner wrote them)."""
    return {
        "terminal": render_terminal(data),
        "report.md": (out / "report.md").read_text(),
        "report.html": (out / "report.html").read_text(),
    }


@pytest.fixture(scope="module")
def recipes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recipes")
    written = {}
    for name, recipe in {
        "with_default": {"default": 0.2, "layers": {"body": 0.8, "down": 0.1}},
        "without_default": {"layers": {"body": 0.8, "down": 0.1}},
        "every_layer": {"layers": {"stem": 0.5, "body": 0.8, "down": 0.1}},
    }.items():
        path = folder / f"{name}.json"
        path.write_text(json.dumps({"schema": "secateurs.recipe/1", **recipe}))
        written[name] = path
    return written


def test_a_recipe_is_reported_wherever_the_amount_would_be(recipes, tmp_path):
    out = tmp_path / "o"
    _, data = pruned(out, recipe=recipes["with_default"])
    assert data["config"]["amount"] is None  # --amount (0.3, the default) pruned no layer
    assert data["recipe"] == {
        "file": str(recipes["with_default"]),
        "default": 0.2,
        "layers": {"body": 0.8, "down": 0.1},
        "unlisted": ["stem"],
        "unlisted_amount": 0.2,
        "unlisted_amount_from": "recipe default",
    }
    said = f"recipe {recipes['with_default']} (2 layers at its amounts; 1 unlisted layer at its default 0.2)"
    for where, text in renderings(out, data).items():
        assert "amount 0.3" not in text and "0.3 " not in text, where
        assert said in text, where
    layers = {r["name"]: r["target"] for r in data["layers"]}
    assert layers == {"stem": 0.2, "body": 0.8, "down": 0.1}


@pytest.mark.parametrize(
    "which, amount, said",
    [
        ("without_default", 0.3, "1 unlisted layer at --amount 0.3)"),
        ("every_layer", None, "(3 layers at its amounts)"),
    ],
)
def test_amount_is_kept_only_when_a_layer_was_pruned_at_it(recipes, tmp_path, which, amount, said):
    _, data = pruned(tmp_path / "o", recipe=recipes[which])
    assert data["config"]["amount"] == amount
    assert said in render_terminal(data)


def test_global_scope_shows_what_each_layer_got_not_a_target(tmp_path):
    out = tmp_path / "o"
    _, data = pruned(out, amount=0.5, scope="global")
    assert all(r["target"] is None for r in data["layers"])
    got = {r["name"]: r["sparsity"] for r in data["layers"]}
    assert len(set(got.values())) > 1  # one threshold: the layers got different sparsities
    for where, text in renderings(out, data).items():
        assert "target" not in text, where
        assert "global scope: one L1 threshold over all" in text, where
    lines = render_terminal(data).splitlines()
    header = next(line for line in lines if line.startswith("layer "))
    assert header.split() == ["layer", "shape", "weights", "cut", "got", "zeros", "before"]
    for name, sparsity in got.items():
        row = next(line for line in lines if line.startswith(name + " "))
        assert f"{100 * sparsity:.2f}%" in row


def test_notes_reach_the_terminal_and_report_md(tmp_path):
    state = {f"module.{k}": v for k, v in models.residual().state_dict().items()}
    torch.save({"state_dict": state}, tmp_path / "w.pth")
    out = tmp_path / "o"
    _, data = pruned(out, weights=tmp_path / "w.pth")
    notes = data["model"]["notes"]
    assert any("stripped" in n for n in notes) and any("'state_dict'" in n for n in notes)
    for where, text in renderings(out, data).items():
        assert "Notes from loading and pruning" in text, where
        for note in notes:
            assert note.replace("'", "&#x27;" if where == "report.html" else "'") in text, where
    assert f"- {notes[0]}" in renderings(out, data)["report.md"]  # a bullet, not run-on text


def test_no_notes_section_without_notes(tmp_path):
    _, data = pruned(tmp_path / "o")
    assert data["model"]["notes"] == [] and "Notes" not in render_terminal(data)


def test_prune_alone_shows_only_what_its_stages_made(cli, tmp_path):
    result = cli("--no-config", "prune", "tests.models:residual", "--out", "w")
    assert result.exit_code == 0, result.output
    md = (tmp_path / "w/report.md").read_text()
    page = (tmp_path / "w/report.html").read_text()
    for where, text in {"terminal": result.stdout, "report.md": md, "report.html": page}.items():
        assert "exporter" not in text, where  # none ran ("exporter auto" before)
        assert "Size ledger" not in text and "Validation" not in text, where
        assert "Task evaluation" not in text and "recommended artifact" not in text, where
        assert "validation: not run" in text, where
    timings = result.stdout.split("== Stage timings ==")[1].split("==")[0]
    assert re.findall(r"^(\w+) +[\d.]+ s$", timings, re.M) == ["load", "prune", "save", "report"]
    assert "\033[" not in result.output  # not a terminal: no colour codes
    manifest = json.loads((tmp_path / "w/manifest.json").read_text())
    assert set(manifest["run"]["timings_s"]) == {"load", "prune", "save", "report"}


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    out = tmp_path_factory.mktemp("validated") / "out"
    _, data = execute(
        RunConfig(
            "tests.models:residual", out, amount=0.5, exporter="torchscript", formats=exporters.names()
        ),
        ["load", "prune", "export", "validate"],
    )
    return out, data


def test_the_recommended_artifact_is_the_smallest_onnxruntime_file_that_passed(validated):
    out, data = validated
    best = recommended_artifact(data)
    runnable = {"model.onnx", "model.sparse.onnx", "model.bitmask.onnx"}
    sizes = {a["file"]: a["size"] for a in data["artifacts"]}
    assert best.file in runnable and best.size == min(sizes[f] for f in runnable)
    assert best.size < min(sizes[f] for f in runnable - {best.file})  # a real choice, not a tie
    for where, text in renderings(out, data).items():
        assert "recommended artifact" in text and best.file in text, where
    # a failed check on it moves the choice on; a failed or unvalidated run recommends nothing
    broken = json.loads(json.dumps(data))
    broken["validation"]["checks"].append({"artifact": best.file, "name": "x", "passed": False})
    assert recommended_artifact(broken).file != best.file
    broken["validation"]["passed"] = False
    assert recommended_artifact(broken) is None
    assert recommended_artifact({**data, "validation": None}) is None


def test_html_shows_each_part_once_labelled(validated):
    out, data = validated
    page = (out / "report.html").read_text()
    (baseline,) = data["sizes"]["baselines"]
    assert page.count(f"({baseline} of model.onnx)") == 1  # one size table, its bars inline
    assert page.count('<div class="bar">') == len(data["layers"]) + len(data["sizes"]["artifacts"]) + 1
    timings = page.split("<h2>Timings and digest</h2>")[1].split("</section>")[0]
    assert "secateurs report DIR" in timings and "secateurs verify DIR" in timings
    assert "Stage timings" not in page  # hashed: identical runs write identical pages


@pytest.mark.parametrize(
    "tty, no_color, expected",
    [(True, None, True), (True, "", True), (True, "1", False), (True, "0", False), (False, None, False)],
)
def test_colour_only_on_a_terminal_and_not_with_no_color(monkeypatch, tty, no_color, expected):
    import click

    from secateurs.commands.common import color_stdout

    class Stream:
        def isatty(self):
            return tty

    monkeypatch.setattr(click, "get_text_stream", lambda name: Stream())
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    assert color_stdout() is expected


def test_failed_checks_are_red_on_a_terminal(validated):
    _, data = validated
    broken = json.loads(json.dumps(data))
    broken["validation"]["passed"] = False
    broken["validation"]["checks"][0]["passed"] = False
    text = render_terminal(broken, color=True)
    assert "validation: \033[1;31mFAILED\033[0m" in text
    assert text.count("\033[1;31mFAIL\033[0m") == 1 and "\033[32mPASS\033[0m" in text
    assert "\033[" not in render_markdown(broken) and "\033[" not in render_html(broken)
