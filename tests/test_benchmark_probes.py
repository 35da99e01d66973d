"""`make bench` builds its models from benchmarks/ and times named library functions: a model
that drifts from its documented shape, or a probed function that was renamed or moved, must
fail here, in `make test`, not in the benchmark. Tiny inputs, no timing."""

import pytest
import torch

from benchmarks.resnet import resnet18, resnet50
from benchmarks.timed_run import PROBES, owner_of, targets
from benchmarks.yolo_like import yolov5s


@pytest.mark.parametrize(("label", "spec", "attr"), PROBES, ids=[p[0] for p in PROBES])
def test_every_probe_names_a_function(label, spec, attr):
    assert callable(getattr(owner_of(spec), attr, None)), f"{label}: {spec}.{attr} is gone"


def test_every_format_method_is_probed():
    from secateurs import exporters

    labels = {label for label, _, _ in targets()}
    assert {f"{name} export" for name in exporters.names()} <= labels
    assert {f"{name} checks" for name in exporters.names()} <= labels


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("factory", "params", "convs"),
    [(resnet18, 11_689_512, 20), (resnet50, 25_557_032, 53)],
    ids=["r18", "r50"],
)
def test_resnets_have_torchvisions_size(factory, params, convs):
    model = factory()
    assert not model.training and model.input_shape == (1, 3, 224, 224)
    assert n_params(model) == params
    assert sum(isinstance(m, torch.nn.Conv2d) for m in model.modules()) == convs
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 1000)


def test_factories_are_seeded_and_leave_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a, b = yolov5s(), yolov5s()
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(yolov5s(seed=1).detect.m[0].weight, a.detect.m[0].weight)


def test_yolov5s_has_yolov5s_size_and_nested_eval_output():
    model = yolov5s()
    assert not model.training and model.input_shape == (1, 3, 640, 640)
    assert n_params(model) == 7_235_389  # yolov5s.yaml at 80 classes
    assert sum(isinstance(m, torch.nn.Conv2d) for m in model.modules()) == 60
    for size in (64, 128):  # a new size rebuilds the cached grids
        with torch.no_grad():
            boxes, levels = model(torch.randn(2, 3, size, size))
        cells = [(size // s) ** 2 for s in (8, 16, 32)]
        assert isinstance(levels, list) and boxes.shape == (2, 3 * sum(cells), 85)
        assert [tuple(p.shape) for p in levels] == [(2, 3, size // s, size // s, 85) for s in (8, 16, 32)]
    # The decoding of the coarsest level: xy = (2 sigmoid + grid) * stride, wh = (2 sigmoid)^2 * anchor.
    raw = levels[2].sigmoid()
    grid_y, grid_x = torch.meshgrid(torch.arange(4.0), torch.arange(4.0), indexing="ij")
    want_x = (raw[..., 0] * 2 + grid_x - 0.5) * 32
    want_w = (raw[..., 2] * 2) ** 2 * torch.tensor([116.0, 156.0, 373.0]).view(1, 3, 1, 1)
    last = boxes[:, -3 * 16 :].view(2, 3, 4, 4, 85)
    torch.testing.assert_close(last[..., 0], want_x)
    torch.testing.assert_close(last[..., 2], want_w)
    torch.testing.assert_close(last[..., 4:], raw[..., 4:])
