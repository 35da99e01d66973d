"""Recovery fine-tuning (--finetune EPOCHS, --finetune-fn): deterministic, unstructured zeros
kept with nothing left on the model, channel-pruned models train and export, the user's
function is checked, and missing training data is refused before the model loads."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from secateurs.cli import main
from secateurs.finetune.data import ClassifierData
from secateurs.finetune.loop import finetune, masks_of
from secateurs.model.load import load_model
from secateurs.model.prune import prune_model
from tests import finetune_fns


def labelled(path, shape=(3, 8, 8), classes=4, n=24, seed=0, labels=True):
    rng = np.random.default_rng(seed)
    arrays = {"inputs": rng.standard_normal((n, *shape), dtype=np.float32)}
    if labels:
        arrays["labels"] = rng.integers(0, classes, n).astype(np.int64)
    np.savez(path, **arrays)
    return str(path)


def cli(*args):
    return CliRunner().invoke(main, ["--no-config", *args, "-q"])


@pytest.fixture
def data(tmp_path):
    return {"train": labelled(tmp_path / "train.npz"), "eval": labelled(tmp_path / "eval.npz", seed=1)}


def test_same_seed_same_weights_other_seed_other_weights():
    results = []
    for seed in (0, 0, 1):
        model, _ = load_model("tests.models:conv_linear", None, None)
        records, _ = prune_model(model, 0.5)
        x = torch.randn(16, 3, 8, 8, generator=torch.Generator().manual_seed(2))
        y = torch.arange(16) % 4
        losses = finetune(
            model, ClassifierData("t", x, y), 2, 1e-2, seed, masks_of(model, [r.param for r in records])
        )
        assert len(losses) == 2
        results.append((losses, {k: v.clone() for k, v in model.state_dict().items()}))
    (l0, s0), (l1, s1), (_, s2) = results
    assert l0 == l1
    assert all(torch.equal(s0[k], s1[k]) for k in s0)
    assert not all(torch.equal(s0[k], s2[k]) for k in s0)


def test_cli_prune_with_finetune_is_deterministic(tmp_path, data):
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        args = [
            "tests.models:conv_linear",
            "--amount",
            "0.5",
            "--finetune",
            "2",
            "--finetune-data",
            data["train"],
        ]
        result = cli("prune", *args, "--threads", "1", "--out", str(out))
        assert result.exit_code == 0, result.output
    for name in ("pruned.safetensors", "report.json", "state/state.json"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_unstructured_zeros_stay_and_nothing_is_left_on_the_model(tmp_path, data):
    plain, tuned = tmp_path / "plain", tmp_path / "tuned"
    common = ["run", "tests.models:conv_linear", "--amount", "0.5", "--formats", "onnx,safetensors"]
    assert cli(*common, "--eval", data["eval"], "--out", str(plain)).exit_code == 0
    result = cli(
        *common,
        "--eval",
        data["eval"],
        "--finetune",
        "2",
        "--finetune-data",
        data["train"],
        "--out",
        str(tuned),
    )
    assert result.exit_code == 0, result.output
    before, after = load_file(plain / "pruned.safetensors"), load_file(tuned / "pruned.safetensors")
    for name in ("conv.weight", "conv2.weight"):
        assert torch.equal(before[name] == 0, after[name] == 0), name  # the same zeros, in place
        assert not torch.equal(before[name], after[name])  # and the rest trained
        assert not torch.signbit(after[name][after[name] == 0]).any()  # +0.0, never -0.0
    report = json.loads((tuned / "report.json").read_text())
    assert report["status"] == "passed"
    ft = report["finetune"]
    assert ft["epochs"] == 2 and ft["samples"] == 24 and len(ft["loss"]) == 2
    assert ft["masked_layers"] == 2 and ft["zeros_kept"] == report["sparsity"]["pruned_tensors"]["zeros"]
    assert ft["metric"]["name"] == "accuracy" and set(ft["metric"]) >= {"before", "after", "dense"}
    assert report["sparsity"]["pruned_tensors"]["sparsity"] == pytest.approx(0.5, abs=0.01)
    assert "## Recovery fine-tuning" in (tuned / "report.md").read_text()
    assert "finetune" in json.loads((tuned / "manifest.json").read_text())["run"]["timings_s"]


def test_the_loop_leaves_no_mask_hook_or_parametrization():
    model, _ = load_model("tests.models:conv_linear", None, None)
    records, _ = prune_model(model, 0.5)
    x, y = torch.randn(8, 3, 8, 8), torch.arange(8) % 4
    finetune(model, ClassifierData("t", x, y), 1, 1e-2, 0, masks_of(model, [r.param for r in records]))
    names = [n for n, _ in model.named_parameters()] + [n for n, _ in model.named_buffers()]
    assert not [n for n in names if n.endswith(("_orig", "_mask")) or "parametrizations" in n]
    for m in model.modules():
        assert not m._forward_pre_hooks and not m._forward_hooks
    assert not model.training


def test_channel_pruned_model_trains_then_exports_and_validates(tmp_path):
    train = labelled(tmp_path / "t.npz", classes=5)
    out = tmp_path / "o"
    args = ["tests.models:residual", "--structure", "channels", "--amount", "0.5", "--finetune", "1"]
    result = cli("prune", *args, "--finetune-data", train, "--out", str(out))
    assert result.exit_code == 0, result.output
    for command in ("export", "validate"):
        result = cli(command, str(out))
        assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "passed" and report["finetune"]["epochs"] == 1 and report["channels"]
    # model.pt2, which the later stages load, holds the trained weights
    program = torch.export.load(str(out / "model.pt2"))
    saved = load_file(out / "pruned.safetensors")
    assert torch.equal(program.state_dict["head.bias"], saved["head.bias"])
    untuned = tmp_path / "u"
    assert cli("prune", *args[:5], "--out", str(untuned)).exit_code == 0
    assert not torch.equal(load_file(untuned / "pruned.safetensors")["head.bias"], saved["head.bias"])


def test_finetune_fn_gets_the_pruned_model_and_its_result_is_used(tmp_path):
    out = tmp_path / "o"
    finetune_fns.SEEN.clear()
    args = ["run", "tests.models:conv_linear", "--amount", "0.5", "--formats", "onnx,safetensors"]
    result = cli(*args, "--finetune-fn", "tests.finetune_fns:revive", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert finetune_fns.SEEN == {"type": "ConvLinear", "zeros": 288}  # 50% of conv2's 576 weights
    saved = load_file(out / "pruned.safetensors")
    assert torch.all(saved["fc.bias"] == 0.125)
    assert int((saved["conv2.weight"] == 0).sum()) == 288  # revived, then zeroed again
    assert torch.all(saved["conv2.weight"][saved["conv2.weight"] != 0] == 1.0)
    report = json.loads((out / "report.json").read_text())
    assert report["finetune"]["function"] == "tests.finetune_fns:revive"
    assert report["finetune"]["revived"] == report["finetune"]["zeros_kept"] > 0
    assert any("revived" in n for n in report["model"]["notes"])


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        ("returns_none", "returned NoneType, not a torch.nn.Module"),
        ("reshapes", "returned a model with other parameters (parameter fc.weight is [7, 8], was [4, 8])"),
        ("raises", "raised RuntimeError: out of data"),
    ],
)
def test_finetune_fn_results_that_cannot_be_used_are_refused(tmp_path, fn, message):
    args = ["run", "tests.models:conv_linear", "--formats", "onnx", "--out", str(tmp_path / "o")]
    result = cli(*args, "--finetune-fn", f"tests.finetune_fns:{fn}")
    assert result.exit_code == 3, result.output
    assert message in result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "--finetune needs labelled training data"),
        (["--eval", "EVAL"], "--finetune needs labelled training data"),
        (["--eval", "EVAL", "--finetune-data", "EVAL"], "is the --eval data"),
        (["--finetune-data", "missing.npz"], "file not found"),
        (["--finetune-data", "data.yaml"], "fine-tuning reads a .npz"),
        (["--finetune-data", "builtin:shapes", "--eval", "builtin:digits"], "is detect data but --eval"),
        (["--finetune-fn", "x:y"], "not both"),
    ],
)
def test_finetune_without_usable_training_data_is_refused_before_the_model_loads(
    tmp_path, data, extra, message
):
    extra = [data["eval"] if a == "EVAL" else a for a in extra]
    # tests.models:raises would fail at load (exit 3): exit 2 proves the refusal came first
    result = cli("run", "tests.models:raises", "--finetune", "1", *extra, "--out", str(tmp_path / "o"))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_finetune_data_without_labels_is_refused_before_the_model_loads(tmp_path):
    train = labelled(tmp_path / "t.npz", labels=False)
    args = ["--finetune", "1", "--finetune-data", train, "--out", str(tmp_path / "o")]
    result = cli("prune", "tests.models:raises", *args)
    assert result.exit_code == 2, result.output
    assert "has no 'labels' array (found: inputs)" in result.output


def test_the_python_api_fine_tunes_too(tmp_path, data):
    from secateurs import api

    report = api.prune(
        "tests.models:conv_linear", out=tmp_path / "o", amount=0.5, finetune=1, finetune_data=data["train"]
    )
    assert report["finetune"]["epochs"] == 1 and report["finetune"]["masked_layers"] == 2
