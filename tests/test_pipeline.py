"""Every zoo model goes through the whole pipeline with both exporters and validates."""

import json

import onnx
import pytest

from secateurs import manifest
from secateurs.config import RunConfig
from secateurs.pipeline.runner import execute
from tests import models
from tests.models import ARTIFACTS

ALL = ["load", "prune", "export", "validate"]


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
@pytest.mark.parametrize("factory", models.ZOO, ids=lambda f: f.__name__)
def test_zoo_exports_and_validates(tmp_path, factory, exporter):
    out = tmp_path / "out"
    cfg = RunConfig(model=f"tests.models:{factory.__name__}", out=out, amount=0.5, exporter=exporter)
    ctx, report = execute(cfg, ALL)
    assert report["status"] == "passed"
    assert bool(ctx.validation)
    names = {c["name"].split(" @")[0] for c in report["validation"]["checks"]}
    assert {"onnx.checker (full_check)", "no prune masks leaked", "sparsity survives export"} <= names
    assert "onnxruntime vs torch" in names
    # several inputs at the export shape plus another batch size
    shapes = {c["name"].split("@ ")[1] for c in report["validation"]["checks"] if "@" in c["name"]}
    assert len(shapes) == 2
    model = onnx.load(str(out / "model.onnx"))
    assert [i.name for i in model.graph.input] == ["input"]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # dynamic batch
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert written == ARTIFACTS | {"report.json", "report.md", "report.html", "manifest.json"}


def test_manifest_lists_every_file_with_hash(tmp_path):
    out = tmp_path / "out"
    execute(RunConfig(model="tests.models:plain", out=out, exporter="torchscript"), ALL)
    data = json.loads((out / "manifest.json").read_text())
    listed = {f["path"]: f for f in data["files"]}
    assert set(listed) == ARTIFACTS | {"report.json", "report.md", "report.html"}
    for name, entry in listed.items():
        assert entry["sha256"] == manifest.sha256(out / name)
        assert entry["size"] == (out / name).stat().st_size
    assert data["digest"] == manifest.digest(data) and len(data["digest"]) == 64
    assert set(data["run"]["timings_s"]) == {"load", "prune", "export", "validate", "report"}


def test_report_names_both_denominators(tmp_path):
    out = tmp_path / "out"
    _, report = execute(
        RunConfig(model="tests.models:residual", out=out, amount=0.5, exporter="torchscript"), ALL
    )
    s = report["sparsity"]
    assert s["pruned_tensors"]["numel"] == sum(layer["numel"] for layer in report["layers"])
    assert s["all_parameters"]["numel"] > s["pruned_tensors"]["numel"]  # BN, linear and biases too
    assert s["all_parameters"]["sparsity"] < s["pruned_tensors"]["sparsity"]
    assert "pruned Conv2d" in s["pruned_tensors"]["denominator"]
    assert "every parameter" in s["all_parameters"]["denominator"]
    assert report["schema"] == "secateurs.report/1"
    assert "timings_s" not in report and "out" not in report["config"]  # nothing run-specific
    assert set(report["versions"]) >= {"torch", "onnx", "onnxruntime"}
    md = (out / "report.md").read_text()
    assert "## Per-layer sparsity" in md and "## Validation" in md and "onnxruntime" in md


def test_batchnorm_folding_keeps_zeros(tmp_path):
    """The torchscript exporter folds BN into the conv weight and renames it; zeros must survive."""
    out = tmp_path / "out"
    ctx, _ = execute(
        RunConfig(model="tests.models:no_bias_bn", out=out, exporter="torchscript", amount=0.6), ALL
    )
    check = next(c for c in ctx.validation.checks if c.name == "sparsity survives export")
    assert check.passed, check.detail
    inits = {t.name for t in onnx.load(str(out / "model.onnx")).graph.initializer}
    assert not any(n.startswith("0.weight") for n in inits)  # renamed by folding, matched by zeros


def test_mask_multiplication_is_reported_as_leak(tmp_path):
    """A model exported while torch.nn.utils.prune hooks are live multiplies by a mask at runtime."""
    import torch
    from torch.nn.utils import prune

    from secateurs.validators.onnx_structure import leaks

    model = models.plain()
    prune.l1_unstructured(model[0], "weight", amount=0.5)
    path = tmp_path / "leaky.onnx"
    torch.onnx.export(model, (torch.zeros(1, 3, 12, 12),), str(path), dynamo=False, do_constant_folding=False)
    check = leaks(path, onnx.load(str(path)))
    assert not check.passed
    assert "leaked" in check.detail


def test_identical_convs_the_exporter_merges_into_one_node_validate(tmp_path):
    """dynamo merges a head and its untrained deepcopy on one input into one Conv node: sparsity
    is still found for all three pruned convs (a false 'no matching initializer' before)."""
    out = tmp_path / "out"
    cfg = RunConfig(model="tests.models:twin_heads", out=out, amount=0.5, exporter="dynamo")
    ctx, report = execute(cfg, ALL)
    assert report["status"] == "passed", report["validation"]
    model = onnx.load(str(out / "model.onnx"))
    assert sum(n.op_type == "Conv" for n in model.graph.node) == 2  # the merge this test is about
    survives = next(c for c in report["validation"]["checks"] if c["name"] == "sparsity survives export")
    assert survives["passed"] and survives["detail"] == "3 pruned weights found with their zeros"
