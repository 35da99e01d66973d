"""Models as training left them: nested outputs, half precision, wrappers and prefixes,
weight-recomputing hooks on any module, lazy modules, torch.export programs.

Each run is checked from outside, as a user would: the zeros are in model.onnx's conv
weights, pruned.safetensors loads strictly into the plain architecture, and onnxruntime
matches that reloaded PyTorch model output leaf by output leaf.
"""

import copy
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import numpy_helper
from safetensors.torch import load_file
from torch import nn
from torch.nn.utils import prune
from torch.utils import _pytree as pytree

from secateurs.model.conv_calls import convolution_weights, unused_weights
from secateurs.model.outputs import named_outputs
from secateurs.model.plain import make_plain, unwrap
from secateurs.validators.onnxruntime_run import run_all
from tests import models
from tests.models import TORCHSCRIPT


def report_of(path):
    return json.loads((path / "report.json").read_text())


def notes_of(path):
    return " | ".join(report_of(path)["model"]["notes"])


def conv_zero_fractions(path):
    """Zero fraction of every Conv weight initializer in model.onnx (each Conv must have one)."""
    graph = onnx.load(str(path / "model.onnx")).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    fractions = []
    for node in graph.node:
        if node.op_type == "Conv":
            assert node.input[1] in inits, f"conv weight {node.input[1]} is not an initializer"
            fractions.append(float((inits[node.input[1]] == 0).mean()))
    return fractions


def reloaded_matches_onnxruntime(path, plain_model, batches=(1, 3)):
    """pruned.safetensors loads strictly into ``plain_model``; ORT matches it on every leaf."""
    plain_model.load_state_dict(load_file(str(path / "pruned.safetensors")), strict=True)
    plain_model.eval()
    sess = ort.InferenceSession(str(path / "model.onnx"), providers=["CPUExecutionProvider"])
    shape = list(sess.get_inputs()[0].shape)
    gen = torch.Generator().manual_seed(123)
    for batch in batches:
        x = torch.randn(batch, *[int(d) for d in shape[1:]], generator=gen)
        with torch.no_grad():
            names, ref = named_outputs(plain_model(x))
        got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"input": x.numpy()})))
        assert list(got) == names
        for name, r in zip(names, ref):
            np.testing.assert_allclose(got[name], r.numpy(), atol=1e-4, rtol=1e-3, err_msg=name)


# --- outputs of any nesting ---


def test_output_names_follow_the_pytree_path():
    t = torch.zeros(1)
    assert named_outputs(t)[0] == ["output"]
    assert named_outputs((t, [t, t]))[0] == ["output.0", "output.1.0", "output.1.1"]
    assert named_outputs({"logits": t, "aux": [t, None]})[0] == ["logits", "aux.0"]
    names, tensors = named_outputs((t, {"boxes": t, "feats": [t, t], "none": None}))
    assert names == ["output.0", "output.1.boxes", "output.1.feats.0", "output.1.feats.1"]
    # the exporters flatten with the same order
    assert [id(x) for x in tensors] == [id(x) for x in pytree.tree_leaves((t, {"boxes": t, "feats": [t, t]}))]


def test_non_tensor_and_empty_outputs_are_refused_by_path():
    from secateurs.errors import InputError

    with pytest.raises(InputError, match=r"output\.1 is a float"):
        named_outputs((torch.zeros(1), 0.5))
    with pytest.raises(InputError, match="no tensor"):
        named_outputs((None, []))
    with pytest.raises(InputError, match="collide"):
        named_outputs({"a.0": torch.zeros(1), "a": [torch.zeros(1)]})


@pytest.mark.parametrize(
    ("factory", "names"),
    [
        ("yolov5_style", ["output.0", "output.1.0", "output.1.1"]),
        (
            "ultralytics_style",
            ["output.0", "output.1.boxes", "output.1.scores", "output.1.feats.0", "output.1.feats.1"],
        ),
    ],
)
@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_nested_detector_outputs_export_validate_and_verify(cli, tmp_path, factory, names, exporter):
    result = cli(
        "run", f"tests.models:{factory}", "--amount", "0.3", "--exporter", exporter, "--out", "o", "-q"
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "o"
    assert report_of(out)["model"]["output_names"] == names
    assert [o.name for o in onnx.load(str(out / "model.onnx")).graph.output] == names
    assert min(conv_zero_fractions(out)) >= 0.29
    reloaded_matches_onnxruntime(out, getattr(models, factory)())
    compared = {c["name"] for check in report_of(out)["validation"]["checks"] for c in check["outputs"]}
    assert compared == set(names)  # every leaf compared, by name
    with np.load(out / "reference.npz") as ref:
        assert json.loads(str(ref["meta"]))["output_names"] == names
    assert cli("verify", "o").exit_code == 0


def test_non_tensor_output_is_one_line_exit_3(cli, tmp_path):
    result = cli("run", "tests.models:non_tensor_output", "--out", "o")
    assert result.exit_code == 3
    assert "output.1 is a float" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


# --- half precision ---


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_checkpoint_module_runs_in_float32_with_the_same_cuts(cli, tmp_path, dtype):
    half = models.conv_linear().to(dtype)
    torch.save({"epoch": -1, "model": half, "ema": None, "optimizer": None}, tmp_path / "best.pt")
    result = cli(
        "run",
        "best.pt",
        "--trust-model-code",
        "--input-shape",
        "1,3,8,8",
        "--amount",
        "0.5",
        *TORCHSCRIPT,
        "--out",
        "o",
        "-q",
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "o"
    assert f"converted from {str(dtype)[6:]} to float32" in notes_of(out)
    assert "checkpoint key 'model'" in notes_of(out)
    saved = load_file(str(out / "pruned.safetensors"))
    assert saved["conv.weight"].dtype == torch.float32
    # pruning decisions are those of the original half-precision values
    from secateurs.model.prune import prune_model

    original = copy.deepcopy(half)
    prune_model(original, 0.5)
    for name in ("conv.weight", "conv2.weight"):
        assert torch.equal(saved[name] == 0, original.state_dict()[name] == 0)
        assert torch.equal(saved[name], original.state_dict()[name].float())
    reloaded_matches_onnxruntime(out, models.conv_linear())


def test_half_state_dict_into_a_float32_factory(cli, tmp_path):
    torch.save(models.conv_linear().half().state_dict(), tmp_path / "w.pt")
    result = cli("run", "tests.models:conv_linear", "--weights", "w.pt", *TORCHSCRIPT, "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    assert "holds float16 tensors" in notes_of(tmp_path / "o")


# --- wrappers and prefixes ---


def test_ema_is_preferred_over_model(cli, tmp_path):
    model, ema = models.conv_linear(), models.conv_linear()
    with torch.no_grad():
        for p in ema.parameters():
            p.add_(1.0)
    torch.save({"model": model.half(), "ema": ema.half(), "updates": 10}, tmp_path / "last.pt")
    args = ("last.pt", "--trust-model-code", "--input-shape", "1,3,8,8", *TORCHSCRIPT)
    result = cli("run", *args, "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    assert "checkpoint key 'ema' (preferred over 'model')" in notes_of(tmp_path / "o")
    saved = load_file(str(tmp_path / "o" / "pruned.safetensors"))
    assert torch.equal(saved["fc.weight"], ema.fc.weight.float())


def test_data_parallel_module_pickled_whole(cli, tmp_path):
    torch.save(nn.DataParallel(models.conv_linear()), tmp_path / "dp.pth")
    args = ("dp.pth", "--trust-model-code", "--input-shape", "1,3,8,8", *TORCHSCRIPT)
    result = cli("run", *args, "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    assert "unwrapped DataParallel" in notes_of(tmp_path / "o")
    reloaded_matches_onnxruntime(tmp_path / "o", models.conv_linear())


def test_top_level_compile_wrapper_is_unwrapped_and_named():
    """An OptimizedModule does not pickle, so it only ever arrives from a factory."""
    inner = models.conv_linear()
    model, notes = unwrap(torch.compile(inner))
    assert model is inner and notes == [
        "unwrapped torch.compile's OptimizedModule: using the module it wraps"
    ]


def test_nested_wrappers_unwrap_in_any_order():
    inner = models.conv_linear()
    model, notes = unwrap(nn.DataParallel(torch.compile(nn.DataParallel(inner))))
    assert model is inner and len(notes) == 3


@pytest.mark.parametrize("prefix", ["_orig_mod.", "module._orig_mod.", "_orig_mod.module."])
def test_compile_and_parallel_prefixes_in_a_state_dict(cli, tmp_path, prefix):
    state = models.conv_linear().state_dict()
    with torch.no_grad():
        state = {k: v + 1 if v.is_floating_point() else v for k, v in state.items()}
    torch.save({"epoch": 3, "state_dict": {prefix + k: v for k, v in state.items()}}, tmp_path / "c.pth")
    result = cli("run", "tests.models:conv_linear", "--weights", "c.pth", *TORCHSCRIPT, "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    saved = load_file(str(tmp_path / "o" / "pruned.safetensors"))
    assert torch.equal(saved["fc.weight"], state["fc.weight"])
    assert notes_of(tmp_path / "o").count("stripped") == prefix.count(".")


def test_a_training_wrappers_attribute_prefix_is_stripped_only_when_it_fits(tmp_path):
    from secateurs.model.load import strip_prefixes

    expected = models.conv_linear().state_dict()
    lightning = {f"model.{k}": v for k, v in expected.items()}
    state, notes = strip_prefixes(lightning, expected, tmp_path / "w.ckpt")
    assert set(state) == set(expected) and "'model.'" in notes[0]
    partial = {k: v for k, v in list(lightning.items())[1:]}
    assert strip_prefixes(partial, expected, tmp_path / "w.ckpt") == (partial, [])


def test_a_prefix_the_model_itself_uses_is_kept(tmp_path):
    from secateurs.model.load import strip_prefixes

    expected = {"module.conv.weight": 0}
    state = {"module.conv.weight": 1}
    assert strip_prefixes(state, expected, tmp_path / "w.pt") == (state, [])


# --- weight-recomputing hooks and parametrizations on every module type ---


def test_prune_state_norm_hooks_and_parametrizations_on_any_module_are_made_plain(cli, tmp_path):
    """Also pickled whole: case 01's global prune over Conv2d and Linear, saved before prune.remove."""
    model = models.conv_linear()
    prune.global_unstructured(
        [(model.conv, "weight"), (model.fc, "weight")], prune.L1Unstructured, amount=0.3
    )
    torch.save(model, tmp_path / "m.pt")
    args = ("m.pt", "--trust-model-code", "--input-shape", "1,3,8,8", *TORCHSCRIPT)
    result = cli("run", *args, "--out", "p", "-q")
    assert result.exit_code == 0, result.output
    assert set(load_file(str(tmp_path / "p" / "pruned.safetensors"))) == set(
        models.conv_linear().state_dict()
    )

    # a factory: modules with parametrizations do not pickle (torch refuses)
    result = cli("run", "tests.models:hooked_everywhere", "--amount", "0.5", *TORCHSCRIPT, "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    out = tmp_path / "o"
    notes = notes_of(out)
    for expected in (
        "conv: torch prune mask",
        "fc: torch prune mask",
        "conv2: weight_norm hook",
        "bn: parametrization",
    ):
        assert expected in notes
    saved = load_file(str(out / "pruned.safetensors"))
    assert set(saved) == set(models.conv_linear().state_dict())
    assert (saved["fc.weight"] == 0).float().mean() > 0  # the Linear's earlier prune kept, made plain
    assert min(conv_zero_fractions(out)) >= 0.5
    reloaded_matches_onnxruntime(out, models.conv_linear())


def test_spectral_norm_hook_and_parametrization_are_folded(cli, tmp_path):
    result = cli("run", "tests.models:spectral_normed", "--amount", "0.5", *TORCHSCRIPT, "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    notes = notes_of(tmp_path / "o")
    assert "fc: spectral_norm hook" in notes and "conv2: parametrization of weight" in notes
    reloaded_matches_onnxruntime(tmp_path / "o", models.conv_linear())


def test_make_plain_keeps_the_forward():
    model = models.hooked_everywhere()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        before = model(x)
        notes = make_plain(model)
        after = model(x)
    assert len(notes) == 4
    assert torch.allclose(before, after, atol=1e-6)
    assert not any(m._forward_pre_hooks for m in model.modules())
    assert all(not n.endswith(("_orig", "_mask", "_g", "_v")) for n in model.state_dict())


# --- a post-condition that cannot be fooled ---


@pytest.mark.parametrize(
    ("factory", "layer", "why"),
    [
        ("weight_standardized", "2", "overrides the Conv2d forward"),
        ("recomputing_hook", "2", "forward pre-hook"),
        ("rewriting_hook", "2", "rewrites the pruned weight in place"),
    ],
)
def test_a_conv_that_transforms_its_weight_is_refused(cli, tmp_path, factory, layer, why):
    result = cli("run", f"tests.models:{factory}", "--formats", "onnx", "--out", "o", "-q")
    assert result.exit_code == 3, result.output
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and f"layer '{layer}'" in line and why in line
    assert not (tmp_path / "o").exists()
    # excluding the layer is the way through, and then every pruned conv is checked
    result = cli(
        "run", f"tests.models:{factory}", "--exclude", f"^{layer}$", *TORCHSCRIPT, "--out", "o", "-q"
    )
    assert result.exit_code == 0, result.output


def test_convolution_weights_are_recorded_in_every_kind_of_module():
    model = models.plain()
    x = torch.randn(1, 3, 12, 12)
    params = {"0": model[0].weight, "2": model[2].weight}
    for runnable in (model, torch.jit.script(model), torch.export.export(model, (x,)).module()):
        used = convolution_weights(runnable, x)
        assert len(used) == 2
    assert unused_weights(params, convolution_weights(model, x)) == []
    assert unused_weights({"other": torch.randn(8, 3, 3, 3)}, convolution_weights(model, x)) == ["other"]


def test_sparsity_survives_fails_when_the_weight_changed_after_pruning():
    from secateurs.validators.onnx_structure import sparsity_survives
    from secateurs.validators.pruned_map import PrunedMatch

    check = sparsity_survives(Path("model.onnx"), PrunedMatch({"a": "a.w"}), 1, ["a"])
    assert not check.passed and "no longer holds the zeros" in check.detail


# --- lazy modules ---


def test_lazy_modules_are_materialized_before_weights_load(cli, tmp_path):
    trained = models.lazy()
    trained(torch.zeros(1, 3, 8, 8))
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(0.1)
    torch.save(trained.state_dict(), tmp_path / "lazy.pth")
    args = ("tests.models:lazy", "--weights", "lazy.pth", "--amount", "0.5", *TORCHSCRIPT)
    result = cli("run", *args, "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    saved = load_file(str(tmp_path / "o" / "pruned.safetensors"))
    assert torch.equal(saved["fc.weight"], trained.fc.weight)
    assert "lazy modules materialized" in notes_of(tmp_path / "o")


def test_lazy_modules_without_a_shape_ask_for_one(cli, tmp_path):
    result = cli("run", "tests.models:lazy_no_shape", "--out", "o")
    assert result.exit_code == 2 and "--input-shape" in result.stderr and "lazy" in result.stderr


# --- torch.export programs ---


def _bn_net():
    return models.no_bias_bn()


def test_static_program_exports_and_validates_at_its_own_batch(cli, tmp_path):
    model = _bn_net()
    torch.export.save(torch.export.export(model, (torch.randn(2, 3, 10, 10),)), tmp_path / "static.pt2")
    result = cli("run", "static.pt2", "--amount", "0.5", "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    out = tmp_path / "o"
    assert "fixes its batch at 2" in notes_of(out)
    dims = onnx.load(str(out / "model.onnx")).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_value == 2
    assert set(report_of(out)["validation"]["shapes"]) == {"2x3x10x10"}
    reloaded_matches_onnxruntime(out, _bn_net(), batches=(2,))
    assert cli("verify", "o").exit_code == 0


def test_program_in_training_mode_is_switched_to_inference(cli, tmp_path):
    model = _bn_net().train()
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(model, (torch.randn(2, 3, 10, 10),), dynamic_shapes=({0: batch},))
    torch.export.save(program, tmp_path / "train.pt2")
    result = cli("run", "train.pt2", "--amount", "0.5", "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    assert "exported in training mode; switched to inference (2 batch_norm" in notes_of(tmp_path / "o")
    reloaded_matches_onnxruntime(tmp_path / "o", _bn_net())


def test_decomposed_training_program_is_refused_in_one_line(cli, tmp_path):
    model = _bn_net().train()
    program = torch.export.export(model, (torch.randn(2, 3, 10, 10),)).run_decompositions()
    torch.export.save(program, tmp_path / "train.pt2")
    result = cli("run", "train.pt2", "--out", "o")
    assert result.exit_code == 3
    assert "exported in training mode" in result.stderr and "model.eval()" in result.stderr
    assert not (tmp_path / "o").exists()


# --- one true line when onnxruntime cannot load an artifact ---


def test_onnxruntime_load_failure_is_named(tmp_path):
    from onnx import TensorProto, helper

    node = helper.make_node("NoSuchOperator", ["input"], ["output"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1])],
    )
    onnx.save(helper.make_model(graph), tmp_path / "model.onnx")
    result = run_all(tmp_path / "model.onnx", [np.zeros(1, np.float32)])
    assert isinstance(result, str) and result.startswith("onnxruntime cannot load model.onnx: ")
    assert "NoSuchOperator" in result


def test_validation_failure_line_leads_with_the_load_error():
    from secateurs.pipeline.runner import failure_line
    from secateurs.validators.results import Check, ValidationResult

    result = ValidationResult(shapes=[], provider="CPUExecutionProvider", tolerances={})
    result.add(Check("model.bitmask.onnx", "outputs bit-identical to model.onnx", False, "outputs differ"))
    result.add(
        Check("model.onnx", "onnxruntime vs torch", False, "onnxruntime cannot load model.onnx: bad op")
    )
    line = failure_line(result)
    assert line.startswith(
        "validation failed: 2 of 2 checks, 2 distinct: onnxruntime vs torch on model.onnx:"
        " onnxruntime cannot load model.onnx: bad op;"
    )
    assert line.endswith("outputs bit-identical to model.onnx on model.bitmask.onnx: outputs differ")


def test_sweep_and_sensitivity_prove_their_targets_too():
    from secateurs.errors import InputError
    from secateurs.model.conv_targets import find_conv_weights
    from secateurs.model.prune import prove_weights_used

    model = models.weight_standardized()
    targets, _ = find_conv_weights(model)
    with pytest.raises(InputError, match="layer '2'"):
        prove_weights_used(model, {t.layer: t.weight for t in targets}, model.input_shape)


@pytest.mark.parametrize(
    ("spec", "exporter"), [("tests.models:hooked_everywhere", "torchscript"), ("static.pt2", "dynamo")]
)
def test_split_stages_reload_what_prune_made_plain(cli, tmp_path, spec, exporter):
    torch.export.save(torch.export.export(_bn_net(), (torch.randn(2, 3, 10, 10),)), tmp_path / "static.pt2")
    assert cli("prune", spec, "--amount", "0.5", "--out", "w", "-q").exit_code == 0
    result = cli("export", "w", "--exporter", exporter, "-q")
    assert result.exit_code == 0, result.output
    result = cli("validate", "w", "-q")
    assert result.exit_code == 0, result.output
    assert min(conv_zero_fractions(tmp_path / "w")) >= 0.5


# --- the stage state: split stages resume from state/, whatever --formats said ---


def test_validate_after_run_with_onnx_only(cli, tmp_path):
    assert (
        cli("run", "tests.models:plain", "--formats", "onnx", *TORCHSCRIPT, "--out", "o", "-q").exit_code == 0
    )
    out = tmp_path / "o"
    assert (out / "state" / "pruned.safetensors").is_file() and not (out / "pruned.safetensors").exists()
    result = cli("validate", "o", "-q")
    assert result.exit_code == 0, result.output
    assert cli("verify", "o").exit_code == 0
    # with the safetensors artifact, the state points at it instead of a second copy
    assert cli("run", "tests.models:plain", *TORCHSCRIPT, "--out", "p", "-q").exit_code == 0
    assert not (tmp_path / "p" / "state" / "pruned.safetensors").exists()
    assert (
        json.loads((tmp_path / "p" / "state" / "state.json").read_text())["weights"] == "pruned.safetensors"
    )


# --- what a fresh user's inputs turned up beyond the cases ---


def test_a_compiled_submodule_is_unwrapped_and_its_keys_load_plain(cli, tmp_path):
    result = cli("run", "tests.models:compiled_backbone", *TORCHSCRIPT, "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    assert "backbone: unwrapped" in notes_of(tmp_path / "o")
    reloaded_matches_onnxruntime(tmp_path / "o", models.backboned())
    # and its state_dict, whose keys carry _orig_mod. in the middle, loads into the plain model
    torch.save(models.compiled_backbone().state_dict(), tmp_path / "sub.pt")
    assert any("backbone._orig_mod." in k for k in torch.load(tmp_path / "sub.pt"))
    result = cli("run", "tests.models:backboned", "--weights", "sub.pt", *TORCHSCRIPT, "--out", "p", "-q")
    assert result.exit_code == 0, result.output
    assert "'_orig_mod.' from inside the keys" in notes_of(tmp_path / "p")


def test_spectral_norm_hook_model_goes_through_split_stages(cli, tmp_path):
    assert cli("prune", "tests.models:spectral_conv", "--amount", "0.5", "--out", "w", "-q").exit_code == 0
    for stage in (("export", *TORCHSCRIPT), ("validate",)):
        result = cli(*stage, "w", "-q")
        assert result.exit_code == 0, result.output
    reloaded_matches_onnxruntime(tmp_path / "w", models.conv_linear())


def test_program_computing_a_conv_weight_is_refused_naming_the_layer(cli, tmp_path):
    model = models.conv_linear()
    nn.utils.parametrizations.weight_norm(model.conv2)
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(model, (torch.randn(2, 3, 8, 8),), dynamic_shapes=({0: batch},))
    torch.export.save(program, tmp_path / "pwn.pt2")
    result = cli("run", "pwn.pt2", "--out", "o", "-q")
    assert result.exit_code == 3
    assert "layer 'conv2'" in result.stderr and "computes this conv's weight" in result.stderr
    assert not (tmp_path / "o").exists()
    result = cli("run", "pwn.pt2", "--exclude", "^conv2$", "--out", "o", "-q")
    assert result.exit_code == 0, result.output


def test_an_output_named_like_the_input_is_refused(cli, tmp_path):
    result = cli("run", "tests.models:input_named_output", "--out", "o", "-q")
    assert result.exit_code == 3 and "'input'" in result.stderr


def test_ema_state_dict_is_preferred(cli, tmp_path):
    model, ema = models.conv_linear().state_dict(), models.conv_linear().state_dict()
    ema = {k: v + 1 if v.is_floating_point() else v for k, v in ema.items()}
    torch.save({"model": model, "ema": ema, "epoch": 3}, tmp_path / "c.pt")
    result = cli("run", "tests.models:conv_linear", "--weights", "c.pt", *TORCHSCRIPT, "--out", "o", "-q")
    assert result.exit_code == 0, result.output
    assert "under key 'ema'" in notes_of(tmp_path / "o")
    assert torch.equal(load_file(str(tmp_path / "o" / "pruned.safetensors"))["fc.weight"], ema["fc.weight"])


def test_a_layer_named_like_prune_state_is_not_a_leak(tmp_path):
    from onnx import TensorProto, helper

    from secateurs.validators.onnx_structure import leaks

    inits = [
        helper.make_tensor(n, TensorProto.FLOAT, [1], [0.0]) for n in ("seg_mask.weight", "a._orig_mod.w")
    ]
    graph = helper.make_graph([], "g", [], [], initializer=inits)
    assert leaks(tmp_path / "m.onnx", helper.make_model(graph)).passed
    inits.append(helper.make_tensor("conv.weight_mask", TensorProto.FLOAT, [1], [1.0]))
    graph = helper.make_graph([], "g", [], [], initializer=inits)
    check = leaks(tmp_path / "m.onnx", helper.make_model(graph))
    assert not check.passed and check.detail == "leaked: conv.weight_mask"
