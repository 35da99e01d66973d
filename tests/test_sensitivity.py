"""Per-layer recipes in prune_model, the recipe file, and `secateurs sensitivity`."""

from __future__ import annotations

import json

import pytest
import torch

from secateurs.config import RunConfig
from secateurs.errors import InputError, UsageError
from secateurs.model.prune import prune_model
from secateurs.model.recipe import load_recipe, read_recipe, write_recipe
from tests import models


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
        load_recipe(path)
    assert "bad.json" in str(e.value)
    with pytest.raises(InputError, match="not found"):
        load_recipe(tmp_path / "missing.json")


def test_recipe_round_trip(tmp_path):
    write_recipe(tmp_path / "r.json", {"a": 0.5, "b": 0}, default=0.0, budget=0.01)
    assert read_recipe(tmp_path / "r.json") == ({"a": 0.5, "b": 0.0}, 0.0)


def test_sensitivity_command_writes_matrix_and_a_verified_recipe(tmp_path):
    from click.testing import CliRunner

    from secateurs.commands.sensitivity import sensitivity
    from secateurs.model.load import load_model

    out = tmp_path / "sens"
    args = ["builtin:resnet", "--eval", "builtin:digits", "--amounts", "0.5,0.9", "--out", str(out)]
    args += ["--exclude", r"^layers\.[0-2]\.", "--budget", "0.01"]
    result = CliRunner().invoke(sensitivity, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads((out / "sensitivity.json").read_text())
    assert data["schema"] == "secateurs.sensitivity/1"
    assert data["layers"] == ["conv1", "layers.3.conv1", "layers.3.conv2", "layers.3.downsample.0"]
    assert len(data["drop"]) == 4 and all(len(row) == 2 for row in data["drop"])
    assert (out / "sensitivity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert data["recipe"]["drop"] <= 0.01 and data["uniform"]["drop"] <= 0.01
    assert "recipe:" in result.output and "uniform:" in result.output
    page = (out / "report.html").read_text()
    assert "data:image/png;base64," in page and "layers.3.conv2" in page and "http" not in page

    # the recipe file re-applied from scratch reproduces the measured drop
    layers, default = read_recipe(out / "recipe.json")
    assert default == 0.0 and set(layers) == set(data["layers"])
    model, info = load_model("builtin:resnet", None, None)
    from secateurs.evaluation.data import load_eval_data
    from secateurs.evaluation.judge import torch_scores

    eval_data = load_eval_data("builtin:digits", info.input_shape)
    dense = (torch_scores(model, eval_data.inputs).argmax(1) == eval_data.labels).mean()
    records, _ = prune_model(model, default, exclude=r"^layers\.[0-2]\.", layer_amounts=layers)
    pruned = (torch_scores(model, eval_data.inputs).argmax(1) == eval_data.labels).mean()
    assert dense - pruned == pytest.approx(data["recipe"]["drop"])
    assert {r.name: r.target for r in records} == layers


def test_sensitivity_rejects_bad_amounts():
    from secateurs.tuning.sensitivity import check_inputs

    with pytest.raises(UsageError, match="--amounts"):
        check_inputs((0.5, 1.5), None)
    with pytest.raises(UsageError, match="--budget"):
        check_inputs((0.5,), float("nan"))


def test_run_accepts_a_recipe(cli, tmp_path):
    import json

    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"schema": "secateurs.recipe/1", "layers": {"body": 0.8, "down": 0.1}}))
    result = cli("run", "tests.models:residual", "--recipe", recipe, "--amount", "0.3", "--out", "o", "-q")
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
    assert cli("run", "tests.models:residual", "--recipe", recipe, "--out", "o", "-q").exit_code == 0
    assert "data:image/png" in (tmp_path / "o/report.html").read_text()
    bad = cli("run", "tests.models:residual", "--recipe", recipe, "--scope", "global", "--out", "o2")
    assert bad.exit_code == 2
