"""--opset: the ranges each exporter writes faithfully, refused outside them at config time,
recorded in report.json; and model.onnx's dynamic axes named batch/height/width."""

import json
import re

import onnx
import pytest

from secateurs.config import RunConfig
from secateurs.errors import UsageError
from secateurs.exporters.common.onnx_graph import name_dynamic_dims
from secateurs.exporters.common.opsets import TORCHSCRIPT_OPSETS, opset_range
from tests.models import EVERY_FORMAT

SYMBOL = re.compile(r"\bs\d+\b")  # torch.export's symbols: s0, s53, s77 ...


def dims(value):
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def default_opset(model):
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def test_the_torchscript_range_is_torchs_own():
    from torch.onnx import _constants

    assert TORCHSCRIPT_OPSETS[1] == _constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET
    assert opset_range("dynamo") == (18, onnx.defs.onnx_opset_version())
    assert opset_range("auto") == opset_range("dynamo")


@pytest.mark.parametrize(
    "exporter, opset, range_",
    [
        ("dynamo", 17, "18 to"),
        ("auto", 99, "18 to"),
        ("torchscript", 6, "7 to 20"),
        ("torchscript", 21, "7 to 20"),
    ],
)
def test_an_opset_outside_the_exporters_range_is_refused(tmp_path, exporter, opset, range_):
    with pytest.raises(UsageError, match=f"--opset {opset}: the .*exporter writes opsets {range_}"):
        RunConfig(model="builtin:lenet", out=tmp_path, exporter=exporter, opset=opset)
    with pytest.raises(UsageError, match="--opset must be an integer"):
        RunConfig(model="builtin:lenet", out=tmp_path, opset=True)


def test_the_cli_exits_2_naming_the_range(cli, tmp_path):
    result = cli("run", "builtin:lenet", "--opset", "17")
    assert result.exit_code == 2
    assert "--opset 17: the auto (dynamo) exporter writes opsets 18 to" in result.output
    assert not (tmp_path / "artifacts").exists()


def test_a_torchscript_archive_is_checked_against_torchscripts_range(cli, tmp_path):
    import torch

    from tests.models import plain

    torch.jit.script(plain()).save(str(tmp_path / "m.pt"))
    result = cli("run", "m.pt", "--trust-model-code", "--input-shape", "1,3,12,12", "--opset", "21")
    assert result.exit_code == 2
    assert "the torchscript exporter writes opsets 7 to 20" in result.output


@pytest.mark.parametrize("exporter, opset", [("torchscript", 13), ("torchscript", 20), ("dynamo", 21)])
def test_model_onnx_has_the_opset_asked_for(cli, tmp_path, exporter, opset):
    args = ["run", "tests.models:residual", "--exporter", exporter, "--opset", opset, "--amount", "0.9"]
    result = cli(*args, *EVERY_FORMAT, "--out", "o", "-q")
    assert result.exit_code == 0, result.output  # every check passed, in onnxruntime too
    assert default_opset(onnx.load(tmp_path / "o" / "model.onnx")) == opset
    assert default_opset(onnx.load(tmp_path / "o" / "model.sparse.onnx")) == opset
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["config"]["opset"] == opset
    # the bitmask decoder needs BitwiseAnd (opset 18): below it the weights stay dense, saying why
    bitmask = report["encodings"]["bitmask-onnx"]
    if opset < 18:
        assert default_opset(onnx.load(tmp_path / "o" / "model.bitmask.onnx")) == opset
        assert {e["encoding"] for e in bitmask} == {"dense"}
        assert any("needs ai.onnx opset 18" in e["note"] for e in bitmask)
    else:
        assert "bitmask" in {e["encoding"] for e in bitmask}


def test_export_stage_takes_opset(cli, tmp_path):
    assert cli("prune", "tests.models:plain", "--out", "w", "-q").exit_code == 0
    assert cli("export", "w", "--exporter", "torchscript", "--opset", "17", "-q").exit_code == 0
    assert default_opset(onnx.load(tmp_path / "w" / "model.onnx")) == 17
    assert cli("validate", "w", "-q").exit_code == 0


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_dynamic_axes_are_named(cli, tmp_path, exporter):
    result = cli(
        "run", "tests.models:plain", "--exporter", exporter, "--dynamic-hw", *EVERY_FORMAT, "--out", "o", "-q"
    )
    assert result.exit_code == 0, result.output
    for name in ("model.onnx", "model.sparse.onnx", "model.bitmask.onnx"):
        graph = onnx.load(tmp_path / "o" / name).graph
        assert dims(graph.input[0]) == ["batch", 3, "height", "width"], name
        assert dims(graph.output[0]) == ["batch", 4, "out_height", "out_width"], name
        params = [d.dim_param for v in graph.value_info for d in v.type.tensor_type.shape.dim]
        assert not [p for p in params if SYMBOL.search(p)], name


def test_only_the_batch_is_named_without_dynamic_hw(cli, tmp_path):
    assert cli("run", "tests.models:residual", "--formats", "onnx", "--out", "o", "-q").exit_code == 0
    graph = onnx.load(tmp_path / "o" / "model.onnx").graph
    assert dims(graph.input[0]) == ["batch", 3, 8, 8]
    assert dims(graph.output[0])[0] == "batch"


def test_name_dynamic_dims_renames_symbols_inside_expressions():
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["s77", 3, "s53", "s0"])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["s77", 4, "((s53 - 1)//2) + 1", "s0"])
    mid = helper.make_tensor_value_info("mid", TensorProto.FLOAT, ["s77", 4, "s53", "s0*2", "s530"])
    graph = helper.make_graph(
        [helper.make_node("Relu", ["input"], ["output"])], "g", [x], [y], value_info=[mid]
    )
    model = helper.make_model(graph)
    axes = {"input": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch", 2: "out_height"}}
    assert name_dynamic_dims(model, axes, "input")
    assert dims(model.graph.input[0]) == ["batch", 3, "height", "width"]
    assert dims(model.graph.output[0]) == ["batch", 4, "out_height", "width"]
    assert dims(model.graph.value_info[0]) == ["batch", 4, "height", "width*2", "s530"]
    assert not name_dynamic_dims(model, axes, "input")  # nothing left to rename
