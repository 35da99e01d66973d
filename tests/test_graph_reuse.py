"""A sweep exports model.onnx once and renders it per amount: the files must be those `run` writes.

The end-to-end tests run the Tuner and real `secateurs run`s side by side on BatchNorm
models, for both exporters, and compare every artifact byte for byte; the unit tests pin
the relation ``onnx_template`` reads off the dense export and each reason it refuses.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx
import pytest
import torch

from secateurs import exporters
from secateurs.config import RunConfig
from secateurs.errors import ValidationFailed
from secateurs.pipeline import export
from secateurs.pipeline.runner import execute, failed_dir, run_stages
from secateurs.tuning import onnx_template
from secateurs.tuning.graph_reuse import EXPORTED, RENDERED
from secateurs.tuning.onnx_template import FLOATS, OnnxTemplate, Unreproducible, channel_flips
from secateurs.tuning.tuner import Tuner

FP32 = FLOATS[onnx.TensorProto.FLOAT]


def run_files(tmp_path, spec: str, amount: float, exporter: str) -> dict[str, bytes]:
    """The artifact files of a real run at ``amount``: from <out>, or from <out>.failed where
    validation failed (signed_bn: the sparse formats lose its -0.0s; see tests/models.py)."""
    out = tmp_path / f"run-{exporter}-{amount}"
    cfg = RunConfig(model=spec, out=out, amount=amount, exporter=exporter)
    try:
        execute(cfg, run_stages(cfg))
    except ValidationFailed:
        out = failed_dir(out)
    return {name: (out / name).read_bytes() for name in sweep_names(out)}


def sweep_names(directory) -> list[str]:
    """The artifact files (every registered format's) in ``directory``."""
    return sorted(f.filename for f in exporters.formats() if (directory / f.filename).is_file())


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_every_amount_writes_the_bytes_a_real_run_writes(tmp_path, exporter):
    """Amounts out of order, with negative folded BatchNorm factors (-0.0 in a fresh export),
    and amount 1, where a rendered weight would equal another initializer: exported afresh."""
    spec = "tests.models:signed_bn"
    tuner = Tuner(spec, exporter=exporter)
    seen = {}
    for amount in (0.5, 0.3, 1.0):
        directory = tmp_path / f"sweep-{amount}"
        directory.mkdir()
        artifacts, how = tuner.export(amount, directory)
        seen[amount] = how
        written = {name: (directory / name).read_bytes() for name in sweep_names(directory)}
        assert {a.path.name for a in artifacts.values()} == set(written)
        assert written == run_files(tmp_path, spec, amount, exporter), amount
    assert seen == {0.5: EXPORTED, 0.3: RENDERED, 1.0: EXPORTED}
    sizes, how = tuner.artifact_sizes(0.3)
    rendered = tmp_path / "sweep-0.3"
    assert how == RENDERED and sizes == {n: (rendered / n).stat().st_size for n in sweep_names(rendered)}
    assert len(tuner.graph.notes) == 1 and tuner.graph.notes[0].startswith(
        "amount 1: model.onnx exported afresh"
    )
    assert "which the exporter may store once" in tuner.graph.notes[0]
    model = onnx.load(str(rendered / "model.onnx"))
    arrays = [onnx.numpy_helper.to_array(t) for t in model.graph.initializer]
    assert any((np.signbit(a) & (a == 0)).any() for a in arrays)  # -0.0s were rendered


def test_builtin_resnet_renders_what_run_writes(tmp_path, resnet_digits):
    """The benchmark's model, against the session's run at 0.1 (its exporter, torchscript)."""
    tuner = Tuner("builtin:resnet", exporter="torchscript")
    tuner.artifact_sizes(0.3)  # the fresh export kept as evidence
    _, how = tuner.export(0.1, tmp_path)
    assert how == RENDERED and tuner.graph.notes == []
    written = sweep_names(tmp_path)
    assert written == sweep_names(resnet_digits) and len(written) == len(exporters.default_names())
    assert all((tmp_path / n).read_bytes() == (resnet_digits / n).read_bytes() for n in written)


def test_a_template_that_does_not_reproduce_the_fresh_export_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(OnnxTemplate, "render", lambda self, weights: b"not the fresh export")
    tuner = Tuner("tests.models:no_bias_bn", exporter="torchscript")
    hows = [tuner.artifact_sizes(a)[1] for a in (0.2, 0.4, 0.6)]
    assert hows == [EXPORTED] * 3
    assert tuner.graph.notes == [
        "model.onnx exported afresh at every amount: the dense export, rewritten, differs from a fresh export"
    ]


def test_a_dense_model_that_does_not_export_leaves_every_amount_to_fresh_exports(monkeypatch):
    from secateurs.errors import ExportError
    from secateurs.tuning import graph_reuse

    real = graph_reuse.export.export_artifacts

    def dense_fails(cfg, *args, **kwargs):
        if cfg.formats == ("onnx",):  # only the template's export asks for model.onnx alone
            raise ExportError("torchscript exporter failed on it")
        return real(cfg, *args, **kwargs)

    monkeypatch.setattr(graph_reuse.export, "export_artifacts", dense_fails)
    tuner = Tuner("tests.models:no_bias_bn", exporter="torchscript")
    assert [tuner.artifact_sizes(a)[1] for a in (0.2, 0.4)] == [EXPORTED] * 2
    assert tuner.graph.notes == [
        "model.onnx exported afresh at every amount: the dense model did not export"
        " (torchscript exporter failed on it)"
    ]


def test_layers_sharing_one_initializer_are_exported_afresh(tmp_path, monkeypatch):
    """Two convs with equal dense weights are stored once by the exporter: which one a pruned
    layer's zeros belong to cannot be told, so the template refuses (and says so)."""
    from tests import models

    def twins():
        model = models.signed_bn()
        with torch.no_grad():
            model.c.weight.copy_(model.b.weight)
        return model

    monkeypatch.setattr(models, "twins", twins, raising=False)
    tuner = Tuner("tests.models:twins", exporter="torchscript")
    directory = tmp_path / "sweep"
    directory.mkdir()
    tuner.export(0.2, directory)
    _, how = tuner.export(0.4, directory)
    assert how == EXPORTED
    assert tuner.graph.notes == [
        "model.onnx exported afresh at every amount: b: layers b and c share one initializer"
    ]


def test_an_unpruned_first_amount_is_not_evidence(tmp_path):
    tuner = Tuner("tests.models:no_bias_bn", exporter="torchscript")
    hows = [tuner.artifact_sizes(a)[1] for a in (0.0, 0.3, 0.6)]
    assert hows == [EXPORTED, EXPORTED, RENDERED]


def fp32_bits(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).reshape(len(a), -1)


@pytest.mark.parametrize(
    "scale, flips",
    [
        ([1.0, 1.0], [0, 0]),  # as is
        ([0.37, 2.5], [0, 0]),
        ([-0.37, 2.5], [1, 0]),
        ([-1.0, -3.0], [1, 1]),
        ([0.0, -2.0], [0, 1]),  # a zero factor: every element +0.0 in that channel
    ],
)
def test_channel_flips_reads_the_sign_of_each_channels_factor(scale, flips):
    w = np.random.default_rng(0).standard_normal((2, 12)).astype(np.float32)
    w[0, 3] = 0.0
    exported = w * np.asarray(scale, dtype=np.float32)[:, None]
    found = channel_flips(fp32_bits(exported), fp32_bits(w), FP32)
    assert found is not None and [int(f) >> 31 for f in found[:, 0]] == flips


@pytest.mark.parametrize(
    "change",
    [
        lambda w: w + 0.01,  # an offset: zeros would not stay zero
        lambda w: w[::-1].copy(),  # another tensor altogether
        lambda w: w * np.linspace(1, 2, w.shape[1], dtype=np.float32),  # not one factor per channel
        lambda w: np.where(np.arange(w.shape[1]) % 2, w, -w),  # signs not one per channel
        lambda w: w * np.float32(np.inf),
    ],
)
def test_channel_flips_refuses_what_is_not_a_per_channel_product(change):
    w = np.random.default_rng(1).standard_normal((3, 10)).astype(np.float32)
    w[1, 2] = 0.0
    with np.errstate(invalid="ignore"):
        assert channel_flips(fp32_bits(change(w)), fp32_bits(w), FP32) is None


def template_of(tmp_path, spec="tests.models:no_bias_bn"):
    """(a Tuner holding the dense model, the OnnxTemplate of its torchscript export)."""
    tuner = Tuner(spec, exporter="torchscript")
    cfg = RunConfig(model=spec, out=tmp_path, amount=0.0, exporter="torchscript", formats=("onnx",))
    export.export_artifacts(cfg, tuner.model, replace(tuner.info, notes=[]), [], tmp_path)
    return tuner, OnnxTemplate((tmp_path / "model.onnx").read_bytes(), tuner.model)


def test_render_refuses_a_weight_changed_other_than_by_zeros(tmp_path):
    tuner, template = template_of(tmp_path)
    dense = (tmp_path / "model.onnx").read_bytes()
    assert template.render({}) == dense  # nothing pruned: the dense export itself
    weight = tuner.model[0].weight.detach().clone()
    weight[0, 0, 0, 0] = 0.0
    assert template.render({"0": weight}) != dense
    assert template.render({}) == dense  # the next rendering starts from the dense export again
    weight[0, 0, 0, 1] += 1.0
    with pytest.raises(Unreproducible, match="other than by zeros"):
        template.render({"0": weight})
    with pytest.raises(Unreproducible, match="not a Conv2d weight"):
        template.render({"nope": weight})


def test_render_refuses_a_weight_equal_to_another_initializer(tmp_path):
    """The exporters store equal initializers once, so a pruned state that makes two equal
    (all zeros here, whatever the signs) may change the graph: refused, not rendered."""
    tuner, template = template_of(tmp_path, "tests.models:signed_bn")
    zero = torch.zeros_like(tuner.model.b.weight)
    template.render({"b": zero})  # equal to no other initializer
    with pytest.raises(Unreproducible, match="which the exporter may store once"):
        template.render({"b": zero, "c": zero})
    with pytest.raises(Unreproducible, match="which the exporter may store once"):
        template.render({"a": zero, "c": zero})  # a's zeros are -0.0 in negative channels


def test_bits_round_trip_each_float_type():
    for kind in FLOATS.values():
        w = torch.randn(3, 2, 2, 2).to(kind[0])
        b = onnx_template.bits(w, kind)
        assert b.dtype == kind[2] and b.shape == (3, 8)
        assert np.array_equal(onnx_template.values(b, kind), w.double().reshape(3, -1).numpy())
