import copy

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize, prune

from secateurs.errors import InputError, UsageError
from secateurs.model.prune import prune_model
from tests import models


def conv_modules(model):
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def assert_plain(model):
    """No prune masks, _orig copies, hooks or parametrizations left anywhere."""
    for name, module in model.named_modules():
        assert not hasattr(module, "weight_orig"), name
        assert not hasattr(module, "weight_mask"), name
        assert not module._forward_pre_hooks, name
        assert not parametrize.is_parametrized(module), name
    for key in model.state_dict():
        assert not key.endswith(("_orig", "_mask")), key


@pytest.mark.parametrize("factory", [f for f in models.ZOO if f is not models.tied], ids=lambda f: f.__name__)
@pytest.mark.parametrize("amount", [0.0, 0.3, 0.5, 0.77, 1.0])
def test_layer_scope_matches_torch_l1_unstructured(factory, amount):
    ours, ref = factory(), factory()
    records, _ = prune_model(ours, amount, "layer")
    for (name, m_ref), rec in zip(conv_modules(ref), records, strict=True):
        assert rec.name == name
        prune.l1_unstructured(m_ref, "weight", amount=amount)
        prune.remove(m_ref, "weight")
        ref_zeros = int((m_ref.weight == 0).sum())
        assert rec.zeros_after == ref_zeros
        assert rec.pruned == round(amount * m_ref.weight.numel())
    assert_plain(ours)


@pytest.mark.parametrize("amount", [0.1, 0.45, 0.9])
def test_global_scope_matches_torch_global_unstructured(amount):
    ours, ref = models.residual(), models.residual()
    records, _ = prune_model(ours, amount, "global")
    params = [(m, "weight") for _, m in conv_modules(ref)]
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=amount)
    for m, _ in params:
        prune.remove(m, "weight")
    assert [r.zeros_after for r in records] == [int((m.weight == 0).sum()) for m, _ in params]
    total = sum(r.numel for r in records)
    assert sum(r.pruned for r in records) == round(amount * total)


def test_smallest_magnitudes_are_the_ones_zeroed():
    model = models.plain()
    before = {n: m.weight.detach().clone() for n, m in conv_modules(model)}
    prune_model(model, 0.4, "layer")
    for name, m in conv_modules(model):
        w0, w1 = before[name].abs().flatten(), m.weight.detach().flatten()
        zeroed = w1 == 0
        assert w0[zeroed].max() <= w0[~zeroed].min()
        assert torch.equal(w1[~zeroed], before[name].flatten()[~zeroed])


def test_biases_and_other_layers_untouched():
    model = models.residual()
    original = copy.deepcopy(model.state_dict())
    prune_model(model, 0.5)
    for key, value in model.state_dict().items():
        if not (key.endswith("weight") and key.split(".")[0] in ("stem", "body", "down")):
            assert torch.equal(value, original[key]), key


def test_weight_stays_a_plain_parameter():
    model = models.plain()
    prune_model(model, 0.5)
    for _, m in conv_modules(model):
        assert type(m.weight) is nn.Parameter
        assert set(dict(m.named_parameters())) == {"weight", "bias"}


def test_exclude_regex_skips_matching_modules():
    model = models.residual()
    records, _ = prune_model(model, 0.5, exclude="^(stem|down)$")
    assert [r.name for r in records] == ["body"]
    assert int((model.stem.weight == 0).sum()) == 0


def test_bad_exclude_regex_is_a_usage_error():
    with pytest.raises(UsageError, match="--exclude"):
        prune_model(models.plain(), 0.5, exclude="(")


def test_model_without_conv_is_rejected():
    with pytest.raises(InputError, match="no Conv2d"):
        prune_model(models.no_conv(), 0.5)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_inf_weights_rejected(bad):
    model = models.plain()
    with torch.no_grad():
        model[0].weight[0, 0, 0, 0] = bad
    with pytest.raises(InputError, match="NaN or Inf"):
        prune_model(model, 0.5)


def test_already_zero_weights_are_counted():
    model = models.plain()
    with torch.no_grad():
        model[0].weight.view(-1)[:50] = 0
    records, _ = prune_model(model, 0.1)
    assert records[0].zeros_before == 50
    assert records[0].zeros_after == 50  # round(0.1*216) = 22 < 50: the cut falls on existing zeros


def test_existing_torch_prune_state_made_plain_first():
    model = models.plain()
    prune.random_unstructured(model[0], "weight", amount=0.2)
    records, notes = prune_model(model, 0.5)
    assert_plain(model)
    assert any("0: torch prune mask on weight made permanent" in n for n in notes)
    assert records[0].zeros_after == round(0.5 * model[0].weight.numel())


def test_weight_norm_parametrization_removed():
    model = models.plain()
    nn.utils.parametrizations.weight_norm(model[2])
    _, notes = prune_model(model, 0.5)
    assert_plain(model)
    assert any("parametrization" in n for n in notes)


def test_tied_weights_pruned_once():
    model = models.tied()
    records, notes = prune_model(model, 0.5)
    assert [r.name for r in records] == ["conv"]
    assert model.alias.weight is model.conv.weight
    assert any("tied" in n for n in notes)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_other_float_dtypes(dtype):
    model = models.plain().to(dtype)
    records, _ = prune_model(model, 0.5)
    assert records[0].dtype == str(dtype).removeprefix("torch.")
    assert records[0].zeros_after >= round(0.5 * records[0].numel)
    assert model[0].weight.dtype == dtype


def test_counts_are_exact_with_ties():
    model = nn.Sequential(nn.Conv2d(1, 1, 3, bias=False))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
    records, _ = prune_model(model, 0.5)
    assert records[0].zeros_after == round(0.5 * 9) == 4
    assert np.isclose(records[0].sparsity, 4 / 9)
