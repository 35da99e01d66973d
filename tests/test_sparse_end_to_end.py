"""Tiny torch CNNs, pruned and exported: every sparse form must give bit-identical outputs.

The zoo from tests/models.py checks exactness; a few slightly larger local models check
sizes and folding, where the zoo's tensors are too small to pay for a decoder.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from secateurs.exporters.bitmask_onnx_codec import read_bitmask_weights, to_bitmask_initializers
from secateurs.exporters.csr_npz_codec import load_csr_npz, save_csr_npz
from secateurs.exporters.sparse_onnx_codec import densify_sparse_initializers, to_sparse_initializers
from tests.models import ZOO

DECODER_OPS = {"BitShift", "BitwiseAnd", "CumSum", "Gather", "Slice", "Cast", "Mul", "Reshape"}


def sized(name: str) -> tuple[nn.Module, tuple[int, ...]]:
    """A small CNN and its input shape: grouped, depthwise and 1x1 convs, with/without bias."""
    torch.manual_seed(0)
    if name == "grouped":
        layers = [nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, groups=4)]
        return nn.Sequential(*layers).eval(), (1, 3, 12, 12)
    if name == "depthwise":
        layers = [
            nn.Conv2d(4, 24, 3, bias=False),
            nn.Conv2d(24, 24, 3, padding=1, groups=24, bias=False),
            nn.Conv2d(24, 8, 1),
        ]
        return nn.Sequential(*layers).eval(), (1, 4, 10, 10)
    if name == "pointwise":
        layers = [nn.Conv2d(16, 64, 1), nn.ReLU(), nn.Conv2d(64, 16, 1, bias=False)]
        return nn.Sequential(*layers).eval(), (2, 16, 6, 6)
    raise KeyError(name)


def prune_(model: nn.Module, sparsity: float) -> None:
    """Per-layer L1 magnitude pruning, zeros written as +0.0."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                flat = m.weight.view(-1)
                k = int(round(sparsity * flat.numel()))
                flat[torch.argsort(flat.abs(), stable=True)[:k]] = 0.0


def export(model: nn.Module, shape, opset: int | None = None) -> onnx.ModelProto:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # legacy-exporter deprecation, Slice folding notes
        torch.onnx.export(
            model, torch.zeros(shape), buf, dynamo=False, input_names=["x"], opset_version=opset
        )
    return onnx.load_from_string(buf.getvalue())


def conv_weights(model: onnx.ModelProto) -> list[str]:
    """Conv weight initializers, each once (a tied weight feeds several Convs)."""
    inits = {t.name for t in model.graph.initializer}
    return list(
        dict.fromkeys(n.input[1] for n in model.graph.node if n.op_type == "Conv" and n.input[1] in inits)
    )


def run(model: onnx.ModelProto, x: np.ndarray, optimized_path=None) -> list[np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    if optimized_path is not None:
        so.optimized_model_filepath = str(optimized_path)
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    s = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return s.run(None, {"x": x})


def same_outputs(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(x.dtype == y.dtype and x.tobytes() == y.tobytes() for x, y in zip(a, b, strict=True))


def pruned_export(name: str, sparsity: float, opset: int | None = None):
    model, shape = sized(name)
    prune_(model, sparsity)
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    return export(model, shape, opset), x


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("factory", ZOO, ids=lambda f: f.__name__)
def test_all_forms_match_dense_bit_for_bit(tmp_path, factory, sparsity):
    model = factory()
    prune_(model, sparsity)
    dense = export(model, model.input_shape)
    x = np.random.default_rng(1).standard_normal(model.input_shape).astype(np.float32)
    names = conv_weights(dense)
    assert names
    ref = run(dense, x)

    bitmask, recs = to_bitmask_initializers(dense, names)
    if sparsity >= 0.5:  # smaller tensors may not pay for their ~400-600 B decoder
        assert all(r.encoding == "bitmask" for r in recs if r.numel >= 512), recs
    onnx.checker.check_model(bitmask, full_check=True)
    assert same_outputs(run(bitmask, x), ref)

    coo, recs = to_sparse_initializers(dense, names)
    assert same_outputs(run(coo, x), ref)
    strict, recs = to_sparse_initializers(dense, names, strict=True)
    onnx.checker.check_model(strict)
    assert same_outputs(run(strict, x), ref)

    weights = {t.name: onnx.numpy_helper.to_array(t) for t in dense.graph.initializer}
    for decoded in (read_bitmask_weights(bitmask), densify_sparse_initializers(coo)):
        assert all(decoded[k].tobytes() == weights[k].tobytes() for k in decoded)
    save_csr_npz({k: weights[k] for k in names}, tmp_path / "w.npz")
    back = load_csr_npz(tmp_path / "w.npz")
    assert all(back[k].tobytes() == weights[k].tobytes() for k in names)


def test_onnxruntime_folds_the_decoder(tmp_path):
    dense, x = pruned_export("grouped", 0.7)
    bitmask, recs = to_bitmask_initializers(dense, conv_weights(dense))
    assert {r.encoding for r in recs} == {"bitmask"}
    assert DECODER_OPS & {n.op_type for n in bitmask.graph.node}
    run(bitmask, x, optimized_path=tmp_path / "opt.onnx")
    optimized = onnx.load(tmp_path / "opt.onnx")
    assert not DECODER_OPS & {n.op_type for n in optimized.graph.node}
    assert {n.op_type for n in optimized.graph.node} <= {"Conv", "Relu"}


def test_torch_pruning_negative_zeros_still_match(tmp_path):
    """torch.nn.utils.prune leaves -0.0; decoders write +0.0, outputs must not change."""
    import torch.nn.utils.prune as tprune

    model, shape = sized("depthwise")
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            tprune.l1_unstructured(m, "weight", 0.6)
            tprune.remove(m, "weight")
    dense = export(model, shape)
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    names = conv_weights(dense)
    bitmask, recs = to_bitmask_initializers(dense, names)
    assert any("negative zero" in r.note for r in recs)
    coo, _ = to_sparse_initializers(dense, names)
    ref = run(dense, x)
    assert same_outputs(run(bitmask, x), ref) and same_outputs(run(coo, x), ref)


def test_opset_13_export_is_raised_for_conv_only_models():
    model, shape = sized("pointwise")
    model = nn.Sequential(model[0], model[2]).eval()  # drop Relu: it changed at opset 14
    prune_(model, 0.8)
    dense = export(model, shape, opset=13)
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    bitmask, recs = to_bitmask_initializers(dense, conv_weights(dense))
    assert {r.encoding for r in recs} == {"bitmask"}
    onnx.checker.check_model(bitmask, full_check=True)
    assert same_outputs(run(bitmask, x), run(dense, x))

    with_relu, _ = pruned_export("pointwise", 0.8, opset=13)
    unchanged, recs = to_bitmask_initializers(with_relu, conv_weights(with_relu))
    assert {r.encoding for r in recs} == {"dense"} and "Relu" in recs[0].note
    assert unchanged.SerializeToString() == with_relu.SerializeToString()


@pytest.mark.parametrize("name", ["grouped", "depthwise", "pointwise"])
def test_files_shrink_at_half_sparsity(tmp_path, name):
    dense, _ = pruned_export(name, 0.5)
    names = conv_weights(dense)
    size = len(dense.SerializeToString())
    assert len(to_bitmask_initializers(dense, names)[0].SerializeToString()) < size
    assert len(to_sparse_initializers(dense, names)[0].SerializeToString()) < size
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in dense.graph.initializer}
    conv = {k: weights[k] for k in names}
    np.savez(tmp_path / "dense.npz", **conv)
    save_csr_npz(conv, tmp_path / "csr.npz")
    assert (tmp_path / "csr.npz").stat().st_size < (tmp_path / "dense.npz").stat().st_size
