"""--structure channels: whole Conv2d output channels removed through Torch-Pruning's dependency
graph, on tiny models with residuals, concatenations, depthwise and grouped convs."""

from __future__ import annotations

import copy
import json

import numpy as np
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner

from secateurs.cli import main
from secateurs.errors import InputError, UsageError
from secateurs.model.channels import prune_channels
from secateurs.model.load import load_model
from secateurs.model.program import save_program


def widths(model) -> dict[str, int]:
    return {n: m.out_channels for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)}


def cut(factory, amount=0.5, **kwargs):
    model, info = load_model(f"tests.models:{factory}", None, None)
    example = torch.randn(*info.input_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = model(example)
    result = prune_channels(model, info.input_shape, amount, **kwargs)
    with torch.no_grad():
        after = model(example)
    return model, result, before, after


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        # residual: stem and body are added, so they lose the same 4 channels; head is Linear
        ("residual", {"stem": 4, "body": 4, "down": 8}),
        # concat: left and right each halve, fuse's input follows; fuse+stem are added; out is the output
        ("concat", {"stem": 4, "left": 3, "right": 5, "fuse": 4, "out": 5}),
        # the depthwise conv goes with the stem that feeds it; grouped keeps 4 groups of 2
        ("separable", {"stem.0": 4, "dw.0": 4, "pw.0": 8, "grouped": 8}),
        ("grouped", {"0": 4, "2": 8}),
    ],
)
def test_channel_counts_after_pruning(factory, expected):
    model, result, before, after = cut(factory)
    assert widths(model) == expected
    assert after.shape == before.shape  # the outputs keep their width
    assert result.params_after < result.params_before
    assert result.params_after == sum(p.numel() for p in model.parameters())
    for conv in (m for m in model.modules() if isinstance(m, torch.nn.Conv2d)):
        assert conv.weight.shape[0] == conv.out_channels
        assert conv.weight.shape[1] * conv.groups == conv.in_channels


@pytest.mark.parametrize(("factory", "norms"), [("residual", {"stem": "bn"}), ("concat", {}), ("plain", {})])
def test_removal_equals_silencing_the_same_channels_in_the_original(factory, norms):
    """Never a wrong graph: a removed channel contributes nothing downstream, exactly as the same
    channel silenced in the original (its filter and bias zeroed, and the BatchNorm after it),
    through ReLU, residual adds and concatenations alike."""
    model, info = load_model(f"tests.models:{factory}", None, None)
    original = copy.deepcopy(model)
    result = prune_channels(model, info.input_shape, 0.5)
    assert any(r["removed"] for r in result.layers)
    modules = dict(original.named_modules())
    with torch.no_grad():
        for r in result.layers:
            for name in [r["name"], norms.get(r["name"])]:
                if name and r["removed"]:
                    modules[name].weight[r["removed"]] = 0
                    modules[name].bias[r["removed"]] = 0
        x = torch.randn(4, *info.input_shape[1:], generator=torch.Generator().manual_seed(3))
        torch.testing.assert_close(model(x), original(x), rtol=1e-5, atol=1e-6)


def test_l1_picks_the_lowest_filters_as_ln_structured():
    """A lone conv (plain: its second conv is the output) loses exactly the filters that
    torch.nn.utils.prune.ln_structured(n=1, dim=0) would zero."""
    model, info = load_model("tests.models:plain", None, None)
    w = model[0].weight.detach().clone()
    reference = torch.nn.Conv2d(3, 8, 3)
    reference.weight.data = w.clone()
    torch.nn.utils.prune.ln_structured(reference, "weight", amount=0.5, n=1, dim=0)
    kept = [i for i in range(8) if reference.weight[i].abs().sum() > 0]
    prune_channels(model, info.input_shape, 0.5)
    assert torch.equal(model[0].weight.detach(), w[kept])


def test_output_layers_are_found_and_keep_their_channels():
    _, result, _, _ = cut("residual")
    assert result.output_layers == ["head"]
    model, result, before, after = cut("two_outputs")
    assert result.output_layers == ["a", "b"]  # a is an output too, not only b's input
    assert widths(model) == {"a": 4, "b": 3}
    assert [r["kept"] for r in result.layers] == ["output layer", "output layer"]
    assert torch.equal(before[0], after[0]) and torch.equal(before[1], after[1])


def test_a_detectors_output_convs_are_found_through_reshapes_and_concatenation():
    """builtin:detector: two head convs whose outputs are reshaped and concatenated into the boxes."""
    model, info = load_model("builtin:detector", None, None)
    x = torch.randn(*info.input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = model(x)
    result = prune_channels(model, info.input_shape, 0.3)
    assert result.output_layers == ["head.0", "head.1"]
    assert widths(model)["head.0"] == 9 and widths(model)["head.1"] == 9
    assert widths(model)["p4.0.0"] == 90  # 128 - round(0.3 * 128)
    with torch.no_grad():
        after = model(x)
    assert [t.shape for t in torch.utils._pytree.tree_leaves(after)] == [
        t.shape for t in torch.utils._pytree.tree_leaves(before)
    ]


def test_excluded_layer_is_untouched_and_so_are_the_groups_feeding_it():
    model, _ = load_model("tests.models:concat", None, None)
    fuse = model.fuse.weight.detach().clone()
    result = prune_channels(model, (1, 3, 8, 8), 0.5, exclude="^fuse$")
    assert torch.equal(model.fuse.weight.detach(), fuse)
    kept = {r["name"]: r["kept"] for r in result.layers}
    assert kept["fuse"] == "excluded"
    assert kept["left"] == kept["right"] == "feeds excluded layer fuse"
    assert widths(model)["left"] == 6 and widths(model)["right"] == 10


def test_round_to_and_never_zero_channels():
    model, result, _, _ = cut("separable", amount=0.3, round_to=4)
    assert all(n % 4 == 0 for n in widths(model).values())
    model, result, before, after = cut("concat", amount=1.0)
    assert min(widths(model).values()) == 1  # amount 1 keeps one channel per group
    assert after.shape == before.shape
    model, _, _, _ = cut("concat", amount=1.0, round_to=2)
    assert min(widths(model).values()) == 2


def test_global_scope_sets_one_threshold_over_all_groups():
    model, result, _, _ = cut("concat", amount=0.5, scope="global")
    lost = {r["name"]: r["out_before"] - r["out_after"] for r in result.layers}
    # three groups: stem+fuse (added: 8 channels), left (6), right (10); half of 24 go
    assert lost["stem"] == lost["fuse"]
    # all six of left's channels fell under the threshold: it keeps one, so 11 go, not 12
    assert (lost["stem"], lost["left"], lost["right"]) == (6, 5, 0)
    assert min(widths(model).values()) >= 1
    targets = {r["target"] for r in result.layers if r["kept"] is None}
    assert targets != {0.5}  # each group cut what fell under the one threshold, not half of itself


def test_a_recipe_sets_a_group_by_its_smallest_amount():
    model, result, _, _ = cut("concat", layer_amounts={"left": 0.0, "stem": 0.5, "fuse": 0.25})
    w = widths(model)
    assert w["left"] == 6  # its own amount 0
    assert w["stem"] == w["fuse"] == 6  # the group stem+fuse at min(0.5, 0.25)
    assert w["right"] == 5  # the run's amount
    with pytest.raises(UsageError, match="nope"):
        cut("concat", layer_amounts={"nope": 0.5})


def test_a_depthwise_conv_on_the_model_input_keeps_its_channels():
    model, result, before, after = cut("depthwise")
    assert widths(model) == {"0": 6, "1": 12}
    assert "model's input" in result.layers[0]["kept"]
    assert torch.equal(before, after)


def test_tied_weights_are_refused():
    with pytest.raises(InputError, match="tied"):
        cut("tied")


def test_a_coupling_torch_pruning_cannot_follow_exits_3_naming_the_layer(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "run",
            "tests.models:buffer_shift",
            "--structure",
            "channels",
            "--round-to",
            "1",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 3
    lines = result.output.strip().splitlines()
    assert "layer a:" in lines[-1] and "--exclude '^a$'" in lines[-1]
    assert not (tmp_path / "o").exists()


def test_program_round_trip_loads_back_identical(tmp_path):
    """model.pt2 (torch.export, no pickle) holds the smaller architecture; the loader reads it
    back and gives the pruned model's outputs, at another batch size too."""
    model, info = load_model("tests.models:separable", None, None)
    prune_channels(model, info.input_shape, 0.5)
    assert save_program(model, info.input_shape, tmp_path / "model.pt2")
    loaded, loaded_info = load_model(str(tmp_path / "model.pt2"), None, info.input_shape)
    assert loaded_info.source == "exported-program"
    for batch in (1, 3):
        x = torch.randn(batch, *info.input_shape[1:], generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            assert torch.equal(loaded(x), model(x))
    with pytest.raises(InputError, match="torch.export program"):
        prune_channels(loaded, info.input_shape, 0.5)


def test_run_validates_the_smaller_model_and_writes_its_program(tmp_path):
    out = tmp_path / "o"
    args = ["run", "tests.models:concat", "--structure", "channels", "--amount", "0.5", "--round-to", "1"]
    result = CliRunner().invoke(main, [*args, "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "passed"  # onnxruntime matched the pruned PyTorch model
    assert report["config"]["structure"] == "channels"
    channels = report["channels"]
    assert channels["output_layers"] == ["out"]
    assert channels["params_after"] < channels["params_before"]
    fuse = next(r for r in channels["layers"] if r["name"] == "fuse")
    assert (fuse["out_before"], fuse["out_after"], fuse["in_before"], fuse["in_after"]) == (8, 4, 16, 8)
    assert "Channels removed" in (out / "report.md").read_text()
    # model.pt2 is what model.onnx was exported from
    program, info = load_model(str(out / "model.pt2"), None, (2, 3, 8, 8))
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    onnx_out = ort.InferenceSession(str(out / "model.onnx")).run(None, {"input": x})[0]
    with torch.no_grad():
        np.testing.assert_allclose(program(torch.from_numpy(x)).numpy(), onnx_out, atol=1e-5)


def test_split_stages_resume_from_the_program(tmp_path):
    out = tmp_path / "o"
    runner = CliRunner()
    result = runner.invoke(
        main, ["prune", "tests.models:residual", "--structure", "channels", "--out", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    assert "channels removed, parameters 1,053 ->" in result.output
    assert (out / "model.pt2").is_file()
    for command in ("export", "validate"):
        result = runner.invoke(main, [command, str(out), "-q"])
        assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "passed"
    assert report["channels"]["output_layers"] == ["head"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--round-to", "4"], "--round-to rounds channel counts; it needs --structure channels"),
        (["--structure", "channels", "--round-to", "0"], "--round-to must be an integer >= 1"),
    ],
)
def test_meaningless_combinations_are_refused(tmp_path, args, message):
    result = CliRunner().invoke(main, ["run", "tests.models:plain", *args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert message in result.output


def test_the_python_api_takes_structure_and_round_to(tmp_path):
    from secateurs import api

    data = api.prune("tests.models:residual", out=tmp_path / "o", structure="channels", round_to=2)
    assert data["config"]["round_to"] == 2
    assert all(r["out_after"] % 2 == 0 for r in data["channels"]["layers"] if r["kept"] is None)


def test_a_round_to_that_keeps_every_channel_is_refused_unless_allowed(tmp_path):
    """--round-to at least every layer's width cuts nothing: exit 3 naming why, nothing written;
    --allow-noop exports the model uncut, as for a model with no Conv2d left by --exclude."""
    args = ["run", "tests.models:residual", "--structure", "channels", "--amount", "0.3", "--round-to", "64"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "o"), "-q"])
    assert result.exit_code == 3
    last = result.output.strip().splitlines()[-1]
    assert "removed no channel" in last and "--round-to 64 keeps all 8 channels" in last
    assert "--allow-noop" in last and not (tmp_path / "o").exists()
    result = CliRunner().invoke(main, [*args, "--allow-noop", "--out", str(tmp_path / "o"), "-q"])
    assert result.exit_code == 0, result.output
    layers = json.loads((tmp_path / "o/report.json").read_text())["channels"]["layers"]
    assert all(r["out_after"] == r["out_before"] for r in layers)
    # amount 0 asks for no cut: it runs without --allow-noop
    result = CliRunner().invoke(main, [*args[:4], "--amount", "0", "--out", str(tmp_path / "zero"), "-q"])
    assert result.exit_code == 0, result.output


def test_a_channel_run_headlines_channels_and_parameters_not_zeros(tmp_path):
    out = tmp_path / "o"
    args = ["run", "tests.models:concat", "--structure", "channels", "--amount", "0.5", "--formats", "onnx"]
    result = CliRunner().invoke(main, [*args, "--out", str(out), "--latency-runs", "0"])
    assert result.exit_code == 0, result.output
    summary = result.output.split("== Summary ==")[1].split("==")[0]
    report = json.loads((out / "report.json").read_text())
    layers = [r for r in report["channels"]["layers"] if r["kind"] == "Conv2d"]
    total = sum(r["out_before"] for r in layers)
    removed = sum(r["out_before"] - r["out_after"] for r in layers)
    assert 0 < removed < total
    assert f"Conv2d output channels removed: {removed / total:.2%} ({removed:,} / {total:,}" in summary
    c = report["channels"]
    assert f"{c['params_before']:,} -> {c['params_after']:,}" in summary
    assert "sparsity over pruned Conv2d weights" not in summary


@pytest.mark.parametrize(
    ("extra", "fixes"),
    [
        (["--round-to", "64"], "lower --round-to, or pass --allow-noop"),
        (["--round-to", "1", "--amount", "0.01"], "raise --amount, or pass --allow-noop"),
    ],
)
def test_the_no_cut_error_suggests_only_what_would_help(tmp_path, extra, fixes):
    args = ["run", "tests.models:residual", "--structure", "channels", "--amount", "0.3", *extra]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "o"), "-q"])
    assert result.exit_code == 3
    last = result.output.strip().splitlines()[-1]
    assert last.endswith(fixes + " to keep the model whole"), last
    assert ("lower --round-to" in last) == ("64" in extra)


def test_an_unknown_builtin_is_a_usage_error_before_anything_loads(tmp_path):
    result = CliRunner().invoke(main, ["run", "builtin:lenett", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "unknown builtin model 'builtin:lenett'; choose from: detector, lenet, resnet" in result.output


def test_the_builtin_names_known_without_torch_are_the_registry():
    from secateurs.config import BUILTIN_MODELS
    from secateurs.models import BUILTINS

    assert BUILTIN_MODELS == tuple(sorted(BUILTINS))
