"""Per-layer recipes in prune_model, the recipe file, and `secateurs sensitivity`.

The sensitivity matrix, the recipe search and the uniform comparison are checked against a
stub probe whose drop is a known function of the per-layer amounts (tests/tuning_stubs.py);
the real Probe runs on a tiny model, and the command once end to end on builtin:lenet.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from secateurs.config import RunConfig
from secateurs.errors import InputError, UsageError
from secateurs.model.prune import prune_model
from secateurs.model.recipe import read_recipe, write_recipe
from secateurs.tuning.sensitivity import (
    RECIPE_STEP,
    Probe,
    build_recipe,
    pick_recipe,
    removes_less,
    sensitivity,
    uniform_within,
)
from secateurs.tuning.tuner import Tuner
from tests import models
from tests.models import TORCHSCRIPT
from tests.tuning_stubs import StubProbe


def test_layer_amounts_match_torch_l1_unstructured():
    from torch.nn.utils import prune

    model = models.residual()
    reference = models.residual()
    reference.load_state_dict(model.state_dict())
    convs = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    recipe = {convs[0]: 0.8, convs[-1]: 0.1}
    records, _ = prune_model(model, 0.3, layer_amounts=recipe)
    by_name = {r.name: r for r in records}
    for name, module in reference.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            amount = recipe.get(name, 0.3)
            prune.l1_unstructured(module, "weight", amount=amount)
            prune.remove(module, "weight")
            assert by_name[name].target == amount
            assert by_name[name].zeros_after == int((module.weight == 0).sum())
            assert by_name[name].zeros_after == round(amount * module.weight.numel())


def test_unknown_recipe_layer_is_a_usage_error():
    model = models.residual()
    with pytest.raises(UsageError, match="no.such.layer"):
        prune_model(model, 0.3, layer_amounts={"no.such.layer": 0.5})
    with pytest.raises(UsageError, match="scope layer"):
        prune_model(model, 0.3, scope="global", layer_amounts={})


def test_recipe_with_global_scope_is_rejected(tmp_path):
    with pytest.raises(UsageError, match="--recipe"):
        RunConfig(model="m", out=tmp_path, scope="global", recipe=tmp_path / "r.json")
    cfg = RunConfig(model="m", out=tmp_path, recipe=tmp_path / "r.json")
    assert RunConfig.from_json(cfg.to_json()).recipe == tmp_path / "r.json"


@pytest.mark.parametrize(
    "text, cause",
    [
        ("{not json", "not valid JSON"),
        ('["a"]', "must be an object"),
        ('{"layers": {}}', "non-empty"),
        ('{"layers": {"a": 1.5}}', r"in \[0, 1\]"),
        ('{"layers": {"a": NaN}}', "finite"),
        ('{"layers": {"a": true}}', "finite"),
        ('{"layers": {"a": 0.5}, "default": -1}', "default"),
        ('{"schema": "other/9", "layers": {"a": 0.5}}', "schema"),
    ],
)
def test_malformed_recipe_is_an_input_error_naming_the_file(tmp_path, text, cause):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InputError, match=cause) as e:
        read_recipe(path)
    assert "bad.json" in str(e.value)
    with pytest.raises(InputError, match="not found"):
        read_recipe(tmp_path / "missing.json")


def test_recipe_round_trip(tmp_path):
    write_recipe(tmp_path / "r.json", {"a": 0.5, "b": 0}, default=0.0, budget=0.01)
    assert read_recipe(tmp_path / "r.json") == ({"a": 0.5, "b": 0.0}, 0.0)


def test_sensitivity_command_writes_matrix_and_a_verified_recipe(tmp_path):
    from click.testing import CliRunner

    from secateurs.commands.sensitivity import sensitivity as command
    from secateurs.model.load import load_model

    out = tmp_path / "sens"
    args = ["builtin:lenet", "--eval", "builtin:digits", "--amounts", "0.5,0.95", "--out", str(out)]
    args += ["--exclude", r"^conv1$", "--max-accuracy-drop", "0.01"]
    result = CliRunner().invoke(command, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads((out / "sensitivity.json").read_text())
    assert data["schema"] == "secateurs.sensitivity/1"
    assert data["layers"] == ["conv2"] and data["numel"] == [16 * 6 * 3 * 3]  # --exclude reached the probe
    assert data["samples"] == 360 and data["metric"] == "accuracy drop"
    assert len(data["drop"]) == 1 and len(data["drop"][0]) == 2
    assert (out / "sensitivity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert data["recipe"]["drop"] <= 0.01 and data["uniform"]["drop"] <= 0.01
    assert "recipe (recipe.json):" in result.output and "uniform:" in result.output
    assert result.stdout.splitlines()[-1].startswith(f"DONE | {out} | recipe.json: sparsity ")
    page = (out / "report.html").read_text()
    assert "data:image/png;base64," in page and "conv2" in page and "http" not in page

    # the recipe file re-applied from scratch reproduces the measured drop
    layers, default = read_recipe(out / "recipe.json")
    assert default == 0.0 and set(layers) == set(data["layers"])
    model, info = load_model("builtin:lenet", None, None)
    from secateurs.evaluation.data import load_eval_data
    from secateurs.evaluation.judge import torch_scores

    eval_data = load_eval_data("builtin:digits", info.input_shape)
    dense = (torch_scores(model, eval_data.inputs).argmax(1) == eval_data.labels).mean()
    records, _ = prune_model(model, default, exclude=r"^conv1$", layer_amounts=layers)
    pruned = (torch_scores(model, eval_data.inputs).argmax(1) == eval_data.labels).mean()
    assert dense - pruned == pytest.approx(data["recipe"]["drop"])
    assert {r.name: r.target for r in records} == layers


# --- the algorithms, against a stub probe whose drop is sum(weight[layer] * amount**2) ---

WEIGHTS = {"stem": 4.0, "body": 0.5, "head": 0.05, "free": 0.0}
NUMEL = {"stem": 100, "body": 4000, "head": 800, "free": 50}


def recipe_grid(amounts):
    top = max(amounts)
    return sorted(
        {round(k * RECIPE_STEP, 4) for k in range(int(top / RECIPE_STEP + 1e-9) + 1)} | set(amounts)
    )


def test_sensitivity_matrix_prunes_one_layer_at_a_time():
    probe = StubProbe(WEIGHTS, NUMEL)
    ticks = []
    amounts = (0.25, 0.5, 0.9)
    drops = sensitivity(probe, amounts, advance=ticks.append)
    assert drops == [[round(WEIGHTS[name] * a**2, 10) for a in amounts] for name in probe.layers]
    assert probe.measured == [{name: a} for name in probe.layers for a in amounts]
    assert len(ticks) == len(probe.layers) * len(amounts)
    # a measured -0.0 (an improvement of nothing) is written as 0.0
    probe.weights = {name: -0.0 for name in WEIGHTS}
    assert all(math.copysign(1.0, d) == 1.0 for row in sensitivity(probe, amounts) for d in row)


@pytest.mark.parametrize("budget", [0.0, 0.001, 0.01, 0.05, 0.2, 1.0, 10.0])
@pytest.mark.parametrize("amounts", [(0.25, 0.5, 0.75, 0.9), (0.5, 0.93)])
def test_recipe_is_within_budget_and_no_layer_can_take_one_more_step(budget, amounts):
    probe = StubProbe(WEIGHTS, NUMEL)
    drops = sensitivity(probe, amounts)
    probe.measured.clear()
    ticks = []
    recipe = build_recipe(probe, drops, amounts, budget, advance=ticks.append)
    chosen = recipe["layers"]
    grid = recipe_grid(amounts)
    assert set(chosen) == set(probe.layers) and len(ticks) == len(probe.layers)
    assert all(a in grid for a in chosen.values())  # on the grid, swept amounts included
    assert probe.measured[-1] == chosen  # the whole recipe was measured last
    assert recipe["drop"] == probe.drop_of(chosen) <= budget + 1e-12
    assert recipe["sparsity"] == probe.sparsity_of(chosen)
    # maximal: the drop is monotone, so raising any one layer a grid step breaks the budget
    for name, a in chosen.items():
        if a < grid[-1]:
            bumped = {**chosen, name: grid[grid.index(a) + 1]}
            assert probe.drop_of(bumped) > budget + 1e-12, (name, a)
    assert chosen["free"] == max(amounts)  # a layer that costs nothing is pruned to the top
    # bisection per layer: at most ceil(log2(len(grid))) + 1 trials, plus the final check
    assert len(probe.measured) <= len(probe.layers) * (math.ceil(math.log2(len(grid))) + 1) + 1


def test_recipe_prunes_big_robust_layers_before_small_sensitive_ones():
    # equal sensitivity; the budget (0.81) pays for exactly one layer at 0.9
    probe = StubProbe({"small": 1.0, "big": 1.0}, {"small": 100, "big": 1000})
    amounts = (0.5, 0.9)
    recipe = build_recipe(probe, sensitivity(probe, amounts), amounts, 0.81)
    assert recipe["layers"] == {"small": 0.0, "big": 0.9}
    # a sensitive layer goes after robust ones, even when it is bigger
    probe = StubProbe({"fragile": 100.0, "sturdy": 0.1}, {"fragile": 2000, "sturdy": 1000})
    recipe = build_recipe(probe, sensitivity(probe, amounts), amounts, 0.081)
    assert recipe["layers"] == {"fragile": 0.0, "sturdy": 0.9}
    assert probe.measured[len(probe.layers) * len(amounts)] == {"fragile": 0.0, "sturdy": 0.9}


@pytest.mark.parametrize("budget", [0.01, 0.05, 0.2])
def test_a_recipe_seeded_with_the_uniform_amount_never_removes_less(budget):
    """Seeded with the largest uniform amount within the budget, every layer keeps at least that
    amount, the sparsity is at least uniform's, and the result stays within the budget."""
    probe = StubProbe(WEIGHTS, NUMEL)
    amounts = (0.25, 0.5, 0.75, 0.9)
    drops = sensitivity(probe, amounts)
    uniform = uniform_within(probe, budget)
    recipe = build_recipe(probe, drops, amounts, budget, floor=uniform["amount"])
    assert all(a >= uniform["amount"] for a in recipe["layers"].values())
    assert recipe["sparsity"] >= uniform["sparsity"] and recipe["drop"] <= budget + 1e-12
    assert not removes_less(recipe, uniform)


def test_where_the_greedy_recipe_removes_less_than_uniform_the_seeded_search_wins():
    """Two equal layers, budget 0.5: greedy from 0 gives one 0.7 and the other 0.1 (sparsity 0.4),
    uniform 0.5 removes half; the search seeded at 0.5 is kept instead."""
    probe = StubProbe({"a": 1.0, "b": 1.0}, {"a": 100, "b": 100})
    amounts = (0.5, 0.9)
    drops = sensitivity(probe, amounts)
    uniform = uniform_within(probe, 0.5)
    greedy = build_recipe(probe, drops, amounts, 0.5)
    assert uniform["amount"] == 0.5 and removes_less(greedy, uniform)
    picked = pick_recipe(probe, drops, amounts, 0.5, uniform)
    assert picked["layers"] == {"a": 0.5, "b": 0.5} and not removes_less(picked, uniform)
    # a greedy recipe that already beats uniform is kept without a second search
    probe = StubProbe({"big": 0.1, "small": 10.0}, {"big": 1000, "small": 10})
    drops = sensitivity(probe, amounts)
    uniform = uniform_within(probe, 0.05)
    before = len(probe.measured)
    picked = pick_recipe(probe, drops, amounts, 0.05, uniform)
    assert picked == build_recipe(probe, drops, amounts, 0.05)
    assert not removes_less(picked, uniform) and len(probe.measured) - before > 0


def test_a_floor_over_the_budget_starts_the_recipe_from_zero():
    """A floor whose combined drop (measured as the recipe measures) breaks the budget is dropped."""
    probe = StubProbe({"a": 1.0, "b": 1.0}, {"a": 10, "b": 10})
    amounts = (0.5,)
    drops = sensitivity(probe, amounts)
    recipe = build_recipe(probe, drops, amounts, 0.3, floor=0.5)  # 2 * 0.25 = 0.5 > 0.3
    assert recipe["layers"] == {"a": 0.5, "b": 0.2} and recipe["drop"] <= 0.3


def test_recipe_search_refuses_a_probe_that_is_not_deterministic():
    """The final check re-measures the accepted recipe; a probe that answers differently the
    second time (drop + 1) is caught rather than written as a recipe within budget."""
    probe = StubProbe({"a": 1.0, "b": 1.0}, {"a": 10, "b": 10})
    amounts = (0.5,)
    drops = sensitivity(probe, amounts)
    assert build_recipe(probe, drops, amounts, 0.3)["layers"] == {"a": 0.5, "b": 0.2}
    probe.measured.clear()
    real = probe.measure

    def drifting(layer_amounts):
        repeat = layer_amounts in probe.measured
        drop, sparsity = real(layer_amounts)
        return drop + (1.0 if repeat else 0.0), sparsity

    probe.measure = drifting
    with pytest.raises(RuntimeError, match="exceeds budget 0.3"):
        build_recipe(probe, drops, amounts, 0.3)


@pytest.mark.parametrize("labelled", [True, False])
@pytest.mark.parametrize("budget", [0.0, 0.01, 0.3, 5.0])
def test_uniform_within_is_the_largest_single_amount(labelled, budget):
    probe = StubProbe(WEIGHTS, NUMEL, labelled=labelled)
    total = sum(WEIGHTS.values())
    before = probe.evaluations
    uniform = uniform_within(probe, budget)
    expected = max(k for k in range(101) if total * (k / 100) ** 2 <= budget + 1e-12) / 100
    assert uniform["amount"] == expected
    assert uniform["drop"] == pytest.approx(total * expected**2) and uniform["drop"] <= budget + 1e-12
    assert uniform["sparsity"] == expected
    probes = len(probe.tuner.calls) - 1  # the last call re-reads the chosen row
    assert probe.evaluations - before == probes and 1 <= probes <= 8


# --- the real Probe on a tiny model ---


@pytest.fixture(scope="module")
def labelled_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "d.npz"
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((64, 3, 8, 8)).astype(np.float32)
    np.savez(path, inputs=inputs, labels=models.residual()(torch.from_numpy(inputs)).argmax(1).numpy())
    return path


def test_probe_measures_drop_and_sparsity_on_a_real_model(labelled_npz):
    probe = Probe(Tuner("tests.models:residual", str(labelled_npz)))
    assert probe.layers == ["stem", "body", "down"] and probe.labelled
    assert probe.numel == [8 * 3 * 9, 8 * 8 * 9, 16 * 8]
    assert probe.measure({}) == (0.0, 0.0)  # labels are the dense model's own predictions
    drop, sparsity = probe.measure({"body": 1.0})
    assert sparsity == pytest.approx(8 * 8 * 9 / sum(probe.numel)) and 0.0 < drop <= 1.0
    assert probe.measure({"stem": 0.5, "down": 0.5})[1] == pytest.approx(
        (round(0.5 * 216) + round(0.5 * 128)) / sum(probe.numel)
    )
    assert probe.evaluations == 3
    assert probe.measure({}) == (0.0, 0.0)  # every measure starts from the dense weights

    unlabelled = Probe(Tuner("tests.models:residual", "random:16", exclude="^stem$"))
    assert unlabelled.layers == ["body", "down"] and unlabelled.metric == "1 - top-1 agreement"
    drop, _ = unlabelled.measure({"body": 1.0, "down": 1.0})
    assert 0.0 < drop <= 1.0 and unlabelled.measure({}) == (0.0, 0.0)


def test_probe_needs_a_conv_to_probe():
    with pytest.raises(UsageError, match="no Conv2d layers to probe"):
        Probe(Tuner("tests.models:residual", "random:4", exclude="."))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amounts": (0.5, 1.5)}, "--amounts must be a finite number"),
        ({"amounts": (0.0, 0.5)}, "--amounts must be in (0, 1]"),
        ({"amounts": ()}, "--amounts needs at least one amount"),
        ({"max_accuracy_drop": float("nan")}, "--max-accuracy-drop must be a finite number"),
        ({"max_accuracy_drop": 0.01, "min_agreement": 0.9}, "give one budget for the recipe"),
        ({"eval": None}, "sensitivity needs --eval DATA"),
    ],
)
def test_sensitivity_settings_are_checked_before_loading(fields, message):
    from secateurs.tuning.config import SensitivityConfig

    with pytest.raises(UsageError) as e:
        SensitivityConfig(**{"model": "builtin:lenet", "out": "o", "eval": "builtin:digits", **fields})
    assert message in str(e.value)


def test_the_old_budget_flag_names_its_replacements(cli, tmp_path):
    result = cli("sensitivity", "builtin:lenet", "--eval", "builtin:digits", "--budget", "0.01", "--out", "o")
    assert result.exit_code == 2
    assert "--max-accuracy-drop 0.01" in result.stderr and "--min-agreement 0.99" in result.stderr
    assert not (tmp_path / "o").exists()


def test_an_agreement_budget_on_labelled_data_measures_agreement(labelled_npz):
    from secateurs.tuning.config import SensitivityConfig

    cfg = SensitivityConfig(model="tests.models:residual", out="o", eval=str(labelled_npz), min_agreement=0.9)
    assert cfg.metric == "agreement" and cfg.budget == pytest.approx(0.1)
    probe = Probe(Tuner.from_config(cfg), cfg.metric)
    assert probe.metric == "1 - top-1 agreement" and not probe.labelled
    with pytest.raises(UsageError, match="needs labelled data"):
        Probe(Tuner("tests.models:residual", "random:8"), "accuracy")


def test_run_accepts_a_recipe(cli, tmp_path):
    import json

    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"schema": "secateurs.recipe/1", "layers": {"body": 0.8, "down": 0.1}}))
    args = ("tests.models:residual", "--recipe", recipe, *TORCHSCRIPT)
    result = cli("run", *args, "--amount", "0.3", "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    layers = {
        layer["name"]: layer for layer in json.loads((tmp_path / "o/report.json").read_text())["layers"]
    }
    assert (
        layers["body"]["target"] == 0.8
        and layers["down"]["target"] == 0.1
        and layers["stem"]["target"] == 0.3
    )
    assert layers["body"]["zeros_after"] == round(0.8 * layers["body"]["numel"])
    assert "data:image/png" not in (tmp_path / "o/report.html").read_text()
    (tmp_path / "sensitivity.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)  # beside the recipe
    assert cli("run", *args, "--out", "o", "-q").exit_code == 0
    assert "data:image/png" in (tmp_path / "o/report.html").read_text()
    bad = cli("run", "tests.models:residual", "--recipe", recipe, "--scope", "global", "--out", "o2")
    assert bad.exit_code == 2
