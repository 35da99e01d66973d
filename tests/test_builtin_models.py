"""Builtin demo models: registry, shipped weights, and the held-out digits split they claim on."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest
import torch
from safetensors import safe_open

from secateurs.errors import InputError
from secateurs.model.load import load_model
from secateurs.models import BUILTINS, digits, get_builtin
from secateurs.models.train import evaluate

# sha256 of the comma-joined sorted test indices: catches any drift of the held-out split.
TEST_SPLIT_SHA256 = "2b34a89618d0d4df0f89a3fc8c6dfe92c5c4afc5d09419ddf7bf197d7b652dd6"


@pytest.fixture(scope="module")
def test_split() -> tuple[torch.Tensor, torch.Tensor]:
    return digits.load_split("test")


def build_builtin(name: str) -> torch.nn.Module:
    """The builtin as `secateurs run builtin:NAME` loads it: shipped weights, strict, eval mode."""
    return load_model(f"builtin:{name}", None, None)[0]


def _metadata(name: str) -> dict[str, str]:
    with safe_open(str(get_builtin(name).weights), framework="pt") as f:
        return f.metadata()


def test_registry_names() -> None:
    assert sorted(BUILTINS) == ["detector", "lenet", "resnet"]
    for name, spec in BUILTINS.items():
        assert spec.name == name
        assert spec.input_shape == ((1, 3, 128, 128) if name == "detector" else (1, 1, 32, 32))
        assert spec.weights.is_file()
        assert spec.weights.stat().st_size < 3_000_000


def test_unknown_builtin_lists_choices() -> None:
    with pytest.raises(InputError, match="unknown builtin model 'x'; choose from: detector, lenet, resnet"):
        get_builtin("x")
    with pytest.raises(InputError):
        build_builtin("nope")


@pytest.mark.parametrize("name", ["lenet", "resnet"])
def test_builds_with_shipped_weights(name: str) -> None:
    model = build_builtin(name)
    assert not model.training
    shipped = BUILTINS[name].factory().state_dict().keys()
    assert model.state_dict().keys() == shipped
    with torch.no_grad():
        out = model(torch.zeros(BUILTINS[name].input_shape))
    assert out.shape == (1, 10)


def test_lenet_layer_names() -> None:
    names = {n for n, _ in build_builtin("lenet").named_children()}
    assert {"conv1", "conv2", "fc1", "fc2", "fc3"} <= names


def test_resnet_params_mostly_conv() -> None:
    model = build_builtin("resnet")
    total = sum(p.numel() for p in model.parameters())
    conv = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv / total >= 0.90
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    strided_1x1 = [
        m
        for m in model.modules()
        if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1) and m.stride == (2, 2)
    ]
    assert strided_1x1


def test_split_deterministic_disjoint_stratified() -> None:
    from sklearn.datasets import load_digits

    train, test = digits.split_indices()
    assert (train, test) == digits.split_indices()
    assert not set(train) & set(test)
    target = load_digits().target
    assert len(train) + len(test) == len(target)
    assert hashlib.sha256(",".join(map(str, test)).encode()).hexdigest() == TEST_SPLIT_SHA256
    totals, held = Counter(target.tolist()), Counter(target[test].tolist())
    for label, count in totals.items():
        assert abs(held[label] - digits.TEST_FRACTION * count) <= 1


def test_load_split_shapes_and_repeatable(
    test_split: tuple[torch.Tensor, torch.Tensor],
) -> None:
    x, y = test_split
    assert x.dtype == torch.float32 and x.shape == (len(y), 1, 32, 32)
    assert y.dtype == torch.int64 and set(y.tolist()) == set(range(10))
    x2, y2 = digits.load_split("test")
    assert torch.equal(x, x2) and torch.equal(y, y2)
    with pytest.raises(ValueError, match="unknown split"):
        digits.load_split("val")


@pytest.mark.parametrize("name", ["lenet", "resnet"])
def test_shipped_weights_reach_recorded_accuracy(
    name: str, test_split: tuple[torch.Tensor, torch.Tensor]
) -> None:
    meta = _metadata(name)
    assert meta["model"] == name
    assert float(meta["normalize_mean"]) == digits.MEAN
    assert float(meta["normalize_std"]) == digits.STD
    recorded = float(meta["test_accuracy"])
    assert recorded >= 0.95
    x, y = test_split
    assert int(meta["test_count"]) == len(y)
    accuracy = evaluate(build_builtin(name), x, y) / len(y)
    # One image of slack for float differences across torch builds / thread counts.
    assert abs(accuracy - recorded) <= 1 / len(y) + 1e-9
