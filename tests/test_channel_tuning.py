"""`sweep`, `sensitivity` and `run --auto` with --structure channels, on tiny models.

Each probe cuts channels of a fresh copy of the dense model (``Tuner``); sensitivity probes a
coupled group as one unit and its recipe lists every member; the measured drops are those
`run --recipe`/`run --amount` give.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from secateurs.model.channels import channel_groups
from secateurs.tuning.config import SensitivityConfig, SweepConfig
from secateurs.tuning.sensitivity import Probe, run_sensitivity
from secateurs.tuning.sweep import auto_amount, run_sweep
from secateurs.tuning.tuner import Tuner, macs, within_budget
from tests import models
from tests.models import TORCHSCRIPT


@pytest.fixture(scope="module")
def labelled_npz(tmp_path_factory):
    """Inputs labelled with the dense residual model's own predictions: dense accuracy 100%."""
    path = tmp_path_factory.mktemp("data") / "d.npz"
    inputs = np.random.default_rng(0).standard_normal((64, 3, 8, 8)).astype(np.float32)
    np.savez(path, inputs=inputs, labels=models.residual()(torch.from_numpy(inputs)).argmax(1).numpy())
    return path


def test_a_channel_sweep_cuts_params_and_macs_with_the_amount(tmp_path):
    cfg = SweepConfig(
        model="tests.models:residual",
        out=tmp_path / "o",
        eval="random:16",
        amounts=(0.25, 0.5, 0.75),
        structure="channels",
        round_to=1,
        exporter="torchscript",
        min_agreement=0.5,
    )
    (tmp_path / "o").mkdir()
    doc = run_sweep(cfg, tmp_path / "o")
    rows = doc["rows"]
    assert doc["structure"] == "channels" and doc["dense_cost"]["params"] > rows[0]["params"]
    params = [r["params"] for r in rows]
    assert params == sorted(params, reverse=True) and len(set(params)) == 3
    assert [r["macs"] for r in rows] == sorted((r["macs"] for r in rows), reverse=True)
    assert all("top1_agreement" in r["metrics"] and "within_budget" in r for r in rows)
    sizes = [r["sizes"]["model.onnx"] for r in rows]
    assert sizes == sorted(sizes, reverse=True) and all("model.pt2" in r["sizes"] for r in rows)
    assert all(r["model_onnx"] == "exported" for r in rows)  # a new architecture: never rendered
    assert "parameters" in (tmp_path / "o/sweep.md").read_text()
    # deterministic: a second Tuner gives the same rows, and a probe leaves the dense model alone
    tuner = Tuner("tests.models:residual", "random:16", structure="channels", round_to=1)
    dense = {k: v.clone() for k, v in tuner.dense_model.state_dict().items()}
    again = [tuner.evaluate(a) for a in cfg.amounts]
    assert [(r["params"], r["metrics"]) for r in again] == [(r["params"], r["metrics"]) for r in rows]
    assert all(torch.equal(v, tuner.dense_model.state_dict()[k]) for k, v in dense.items())


def test_macs_count_conv_and_linear_per_sample():
    model = models.residual()  # stem 3->8 3x3, body 8->8 3x3 on 8x8; down 8->16 1x1 on 4x4; head 16->5
    expected = 64 * 8 * 27 + 64 * 8 * 72 + 16 * 16 * 8 + 5 * 16
    assert macs(model, (1, 3, 8, 8)) == expected == macs(model, (4, 3, 8, 8))


def test_unstructured_rows_carry_no_channel_columns():
    row = Tuner("tests.models:residual", "random:8").evaluate(0.5)
    assert "params" not in row and "macs" not in row


def test_sensitivity_probes_coupled_groups_and_writes_a_recipe_run_accepts(tmp_path, labelled_npz, cli):
    model = models.residual()
    assert channel_groups(model, (1, 3, 8, 8)) == [["stem", "body"], ["down"]]  # the residual add
    budget = 0.1
    cfg = SensitivityConfig(
        model="tests.models:residual",
        out=tmp_path / "s",
        eval=str(labelled_npz),
        amounts=(0.25, 0.5, 0.75),
        max_accuracy_drop=budget,
        structure="channels",
        round_to=1,  # exact counts on this 8- and 16-channel model
    )
    (tmp_path / "s").mkdir()
    data = run_sensitivity(cfg, tmp_path / "s")
    assert data["layers"] == ["stem", "down"] and data["groups"] == {"stem": ["stem", "body"]}
    assert data["recipe"]["drop"] <= budget and data["recipe"]["params"] <= data["uniform"]["params"]
    recipe = json.loads((tmp_path / "s/recipe.json").read_text())
    layers = recipe["layers"]
    assert set(layers) == {"stem", "body", "down"} and layers["stem"] == layers["body"]
    assert recipe["meta"]["structure"] == "channels" and recipe["meta"]["measured_drop"] <= budget
    assert any(v > 0 for v in layers.values())
    # measured again on a fresh Tuner: the same drop (deterministic)
    probe = Probe(Tuner.from_config(cfg), "accuracy")
    assert probe.measure({"stem": layers["stem"], "down": layers["down"]})[0] == data["recipe"]["drop"]
    # `run --recipe --structure channels` cuts what the recipe says and validates the graph
    args = ("run", "tests.models:residual", "--recipe", tmp_path / "s/recipe.json", "--structure", "channels")
    result = cli(*args, "--eval", labelled_npz, *TORCHSCRIPT, "--out", "r", "-q")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r/report.json").read_text())
    assert report["status"] == "passed" and report["channels"]["params_after"] == data["recipe"]["params"]
    ran = report["evaluation"]["results"]["pytorch"]  # the drop `run` measures is the recipe's
    assert -ran["delta"]["accuracy"] == pytest.approx(data["recipe"]["drop"])
    widths = {r["name"]: r for r in report["channels"]["layers"]}
    assert widths["stem"]["out_after"] == widths["body"]["out_after"]
    assert widths["stem"]["out_after"] == 8 - round(layers["stem"] * 8)
    # measured with --round-to 1: the run takes it from the recipe, and refuses another
    assert report["config"]["round_to"] == 1 and recipe["meta"]["round_to"] == 1
    result = cli(*args, "--round-to", 8, "--out", "r8", "-q")
    assert result.exit_code == 2 and "was measured with --round-to 1; give --round-to 1" in result.output
    # its amounts are fractions of channels: without --structure channels it is refused up front
    result = cli(*args[:4], "--eval", labelled_npz, "--out", "u", "-q")
    assert result.exit_code == 2 and not (tmp_path / "u").exists()
    assert "made by `secateurs sensitivity --structure channels`" in result.output
    assert "run it with --structure channels" in result.output


def test_an_unstructured_recipe_is_refused_by_a_channel_run_and_a_hand_written_one_fits_both(tmp_path, cli):
    from secateurs.model.recipe import write_recipe

    write_recipe(tmp_path / "u.json", {"stem": 0.5}, structure="unstructured")
    result = cli(
        "run", "tests.models:residual", "--recipe", "u.json", "--structure", "channels", "--out", "o"
    )
    assert result.exit_code == 2 and "run it with --structure unstructured" in result.output
    write_recipe(tmp_path / "hand.json", {"stem": 0.5})
    for structure in ("unstructured", "channels"):
        result = cli(
            "run", "tests.models:residual", "--recipe", "hand.json", "--structure", structure,
            "--formats", "onnx", "--latency-runs", "0", "--out", structure, "-q",
        )  # fmt: skip
        assert result.exit_code == 0, result.output


def test_auto_bisects_the_channel_amount_within_the_budget(tmp_path, labelled_npz, cli):
    budget = 0.1
    tuner = Tuner("tests.models:residual", str(labelled_npz), structure="channels", round_to=1)
    amount, probes = auto_amount(tuner, [("accuracy", budget)])
    assert 0.0 < amount < 1.0 and within_budget(tuner.evaluate(amount), [("accuracy", budget)])
    assert not within_budget(tuner.evaluate(round(amount + 0.01, 10)), [("accuracy", budget)])
    assert len(probes) <= 8
    result = cli(
        "run",
        "tests.models:residual",
        "--structure",
        "channels",
        "--round-to",
        1,
        "--auto",
        "--eval",
        labelled_npz,
        "--max-accuracy-drop",
        budget,
        *TORCHSCRIPT,
        "--out",
        "a",
        "-q",
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "a/report.json").read_text())
    assert report["config"]["amount"] == amount and report["config"]["structure"] == "channels"
    assert report["channels"]["params_after"] == tuner.evaluate(amount)["params"]


class _Shuffle(torch.nn.Module):
    """ShuffleNet's unit in small: a split, a branch, a concatenation and a channel shuffle."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 8, 1)
        self.branch = torch.nn.Conv2d(4, 4, 1)
        self.mix = torch.nn.Conv2d(8, 8, 1)
        self.head = torch.nn.Linear(8, 3)

    def forward(self, x):
        x1, x2 = self.stem(x).chunk(2, dim=1)
        y = torch.cat([x1, self.branch(x2)], 1)
        n, c, h, w = y.shape
        y = y.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
        return self.head(self.mix(y).mean((2, 3)))


def test_a_trace_torch_pruning_cannot_finish_names_the_op_and_its_layer(monkeypatch):
    """torchvision's shufflenet_v2 made Torch-Pruning's reshape index mapping divide by zero
    (benchmarks/REAL_CHANNELS.md): the error names the reshape and the layer before it."""
    from torch_pruning.dependency import index_mapping

    from secateurs.errors import InputError
    from secateurs.model.channels import prune_channels

    def update_reshape_index_mapping(graph, node):
        return 1 // 0  # as Torch-Pruning 1.6 on shufflenet_v2_x0_5 at 224x224

    monkeypatch.setattr(index_mapping, "update_reshape_index_mapping", update_reshape_index_mapping)
    model = _Shuffle().eval()
    with pytest.raises(InputError) as e:
        prune_channels(model, (1, 3, 6, 6), 0.5)
    message = str(e.value)
    assert "cannot trace the model for channel pruning at a reshape after layer " in message
    assert "ZeroDivisionError" in message and "\n" not in message
    assert message.split("after layer ")[1].split(" ")[0] in {"stem", "branch"}


@pytest.mark.parametrize("command", ["sweep", "sensitivity"])
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--round-to", "4"], "--round-to rounds channel counts; it needs --structure channels"),
        (["--structure", "channels", "--round-to", "0"], "--round-to must be an integer >= 1"),
    ],
)
def test_the_tuning_commands_check_structure_options_as_run_does(cli, tmp_path, command, args, message):
    result = cli(command, "builtin:lenet", "--eval", "random:4", *args, "--out", "o")
    assert result.exit_code == 2 and message in result.stderr
    assert not (tmp_path / "o").exists()


class _C2f(torch.nn.Module):
    """YOLOv8's C2f in small: a conv's output chunked in two, one half through a conv, and all
    three concatenated: Torch-Pruning 1.6 maps the chunked conv's channels out of range."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 8, 1)
        self.cv1 = torch.nn.Conv2d(8, 8, 1)
        self.m = torch.nn.Conv2d(4, 4, 3, padding=1)
        self.cv2 = torch.nn.Conv2d(12, 8, 1)
        self.head = torch.nn.Conv2d(8, 5, 1)

    def forward(self, x):
        y = list(self.cv1(self.stem(x)).chunk(2, 1))
        y.append(self.m(y[-1]))
        return self.head(self.cv2(torch.cat(y, 1)))


def test_a_chunk_torch_pruning_maps_out_of_range_is_refused_naming_the_layer():
    """ultralytics YOLOv8n crashed with an IndexError (exit 1) in scoring; now exit 3 naming
    the layer, before anything is cut, and --exclude of that layer lets the rest be cut."""
    from secateurs.errors import InputError
    from secateurs.model.channels import prune_channels

    torch.manual_seed(0)
    model = _C2f().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(InputError, match=r"^layer cv1: Torch-Pruning maps its output channels out of range"):
        prune_channels(model, (1, 3, 8, 8), 0.5)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # nothing cut
    result = prune_channels(model, (1, 3, 8, 8), 0.5, exclude="^cv1$")
    assert result.params_after < result.params_before


def _channel_recipe(path, round_to, **meta):
    from secateurs.model.recipe import write_recipe

    write_recipe(path, {"down": 0.5}, structure="channels", round_to=round_to, **meta)
    return path


def test_the_python_api_runs_a_recipe_as_it_was_measured(tmp_path):
    """api.prune/api.run take a channel recipe's round-to, refuse another and the other structure."""
    from secateurs import api
    from secateurs.errors import UsageError

    recipe = _channel_recipe(tmp_path / "r.json", 1)
    data = api.prune("tests.models:residual", out=tmp_path / "a", recipe=recipe, structure="channels")
    assert data["config"]["round_to"] == 1
    down = next(r for r in data["channels"]["layers"] if r["name"] == "down")
    assert down["out_after"] == 8  # 16 - round(0.5 * 16): exact, as measured
    with pytest.raises(UsageError, match="was measured with --round-to 1"):
        api.prune(
            "tests.models:residual", out=tmp_path / "b", recipe=recipe, structure="channels", round_to=8
        )
    with pytest.raises(UsageError, match="run it with --structure channels"):
        api.run("tests.models:residual", out=tmp_path / "c", recipe=recipe, formats="onnx")
    assert not any((tmp_path / d).exists() for d in "bc")


@pytest.mark.parametrize(
    ("meta", "said"),
    [
        ({"round_to": 0}, "meta.round_to must be an integer >= 1 (or null), got 0"),
        ({"round_to": "8"}, "meta.round_to must be an integer >= 1 (or null), got '8'"),
        ({"round_to": True}, "meta.round_to must be an integer >= 1 (or null), got True"),
        ({"structure": "foo"}, "meta.structure 'foo' is not one of unstructured, channels"),
    ],
)
def test_a_recipe_with_malformed_meta_is_refused_naming_it(tmp_path, cli, meta, said):
    from secateurs.model.recipe import write_recipe

    write_recipe(tmp_path / "r.json", {"down": 0.5}, **{"structure": "channels", **meta})
    result = cli(
        "run", "tests.models:residual", "--recipe", "r.json", "--structure", "channels", "--out", "o"
    )
    assert result.exit_code == 2 and said in result.output and "r.json" in result.output


def test_a_settings_file_round_to_is_a_default_for_channel_runs_only(tmp_path, cli):
    """round-to in secateurs.toml leaves unstructured runs alone, and a recipe's measured round-to
    overrides it (only the command line's is explicit)."""
    (tmp_path / "secateurs.toml").write_text('round-to = 4\nformats = "onnx"\nlatency-runs = 0\n')
    result = cli("run", "tests.models:residual", "--out", "u", "-q")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "u/report.json").read_text())["config"]["round_to"] is None
    _channel_recipe(tmp_path / "r.json", 1)
    result = cli(
        "run", "tests.models:residual", "--recipe", "r.json", "--structure", "channels", "--out", "c", "-q"
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "c/report.json").read_text())["config"]["round_to"] == 1


def test_auto_whose_amount_cuts_no_channel_says_so(tmp_path, labelled_npz, cli):
    args = ("run", "tests.models:residual", "--structure", "channels", "--round-to", 64, "--auto")
    result = cli(*args, "--eval", labelled_npz, "--max-accuracy-drop", 0.1, "--out", "a", "-q")
    assert result.exit_code == 3 and not (tmp_path / "a").exists()
    assert "--auto's largest amount within the budget" in result.output
    assert "removes no channel at --round-to 64" in result.output


def test_a_sensitivity_recipe_that_removes_nothing_says_so(tmp_path, labelled_npz):
    from secateurs.commands.verdict import tuning_line

    cfg = SensitivityConfig(
        model="tests.models:residual",
        out=tmp_path / "s",
        eval=str(labelled_npz),
        amounts=(0.5,),
        max_accuracy_drop=0.1,
        structure="channels",
        round_to=64,
    )
    (tmp_path / "s").mkdir()
    data = run_sensitivity(cfg, tmp_path / "s")
    assert data["recipe"]["sparsity"] == 0.0
    import click

    with click.Context(click.Command("sensitivity")):
        line = tuning_line("sensitivity", tmp_path / "s", data)
    assert "nothing can be cut within the budget at --round-to 64: recipe.json removes nothing" in line


@pytest.mark.parametrize("runs", [0, 3])
def test_a_sweep_times_each_amount_against_dense_and_plots_the_tradeoff(tmp_path, runs):
    cfg = SweepConfig(
        model="tests.models:residual",
        out=tmp_path / "o",
        eval="random:8",
        amounts=(0.25, 0.5),
        structure="channels",
        round_to=1,
        exporter="torchscript",
        latency_runs=runs,
    )
    (tmp_path / "o").mkdir()
    doc = run_sweep(cfg, tmp_path / "o")
    assert doc["latency_runs"] == runs
    page = (tmp_path / "o/report.html").read_text()
    if not runs:
        assert all("latency" not in r for r in doc["rows"]) and not (tmp_path / "o/tradeoff.png").exists()
        return
    for r in doc["rows"]:
        t = r["latency"]
        assert t["batch"] == 32 and t["runs"] == runs and t["dense_ms"] > 0 and t["pruned_ms"] > 0
        assert t["speedup"] == pytest.approx(t["dense_ms"] / t["pruned_ms"], rel=1e-3)
        assert t["spreads_overlap"] is True  # 3 runs give no spread: within the noise by definition
    assert (tmp_path / "o/tradeoff.png").read_bytes()[:4] == b"\x89PNG" and "tradeoff.png" in page
    table = (tmp_path / "o/sweep.md").read_text()
    assert "onnxruntime latency at batch 32" in table and "x faster than dense" in table


def test_latency_runs_must_be_a_count_for_sweep(tmp_path):
    from secateurs.errors import UsageError

    with pytest.raises(UsageError, match="--latency-runs must be an integer >= 0"):
        SweepConfig(model="builtin:lenet", out=tmp_path / "o", latency_runs=-1)
