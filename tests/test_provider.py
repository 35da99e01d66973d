"""--provider: names resolve against this onnxruntime build; tolerances are recorded per provider."""

import json

import numpy as np
import pytest

from secateurs import reference
from secateurs.errors import UsageError
from secateurs.pipeline.validate import input_shapes
from secateurs.validators import providers, tolerances


def test_short_and_full_names_resolve():
    assert providers.resolve("cpu") == "CPUExecutionProvider"
    assert providers.resolve("CPUExecutionProvider") == "CPUExecutionProvider"


def test_an_absent_provider_is_refused_with_what_is_available():
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime build has CUDA")
    with pytest.raises(UsageError, match=r"not available.*available: .*cpu \(CPUExecutionProvider\)"):
        providers.resolve("cuda")


def test_accelerators_get_the_scaled_tolerance():
    table = tolerances.table(1e-4, 1e-3)
    assert tolerances.for_provider(table, "CPUExecutionProvider") == (1e-4, 1e-3)
    atol, rtol = tolerances.for_provider(table, "CUDAExecutionProvider")
    assert atol == pytest.approx(1e-4 * tolerances.ACCELERATOR_SCALE)
    assert rtol == pytest.approx(1e-3 * tolerances.ACCELERATOR_SCALE)


def test_run_records_provider_and_tolerances(cli, tmp_path):
    args = ["run", "tests.models:plain", "--out", "o", "--formats", "onnx", "--exporter", "torchscript"]
    result = cli(*args, "--provider", "cpu", "--atol", "2e-4")
    assert result.exit_code == 0, result.output
    validation = json.loads((tmp_path / "o/report.json").read_text())["validation"]
    assert validation["provider"] == "CPUExecutionProvider"
    assert validation["tolerances"]["CPUExecutionProvider"] == {"atol": 2e-4, "rtol": 1e-3}
    assert validation["tolerances"]["accelerator"]["atol"] == pytest.approx(2e-3)
    compared = [o for c in validation["checks"] for o in c["outputs"]]
    assert compared and all(o["atol"] == 2e-4 for o in compared)
    assert "onnxruntime provider: CPUExecutionProvider" in (tmp_path / "o/report.md").read_text()
    ref = reference.read(tmp_path / "o/reference.npz")
    assert ref.tolerances == validation["tolerances"]


def test_run_with_an_absent_provider_is_a_usage_error(cli, tmp_path):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime build has CUDA")
    result = cli("run", "tests.models:plain", "--out", "o", "--provider", "cuda")
    assert result.exit_code == 2 and "not available" in result.output
    assert not (tmp_path / "o").exists()


def test_reference_holds_the_validation_inputs_and_torch_outputs(tmp_path):
    import torch

    from secateurs.config import RunConfig
    from secateurs.pipeline.runner import execute, run_stages

    cfg = RunConfig(
        model="tests.models:two_outputs", out=tmp_path / "o", formats=("onnx",), exporter="torchscript"
    )
    ctx, report = execute(cfg, run_stages(cfg))
    ref = reference.read(tmp_path / "o/reference.npz")
    assert [x.shape for x in ref.inputs] == input_shapes((2, 2, 6, 6), dynamic_hw=False)
    assert [x.shape for x in ref.inputs] == [(2, 2, 6, 6)] * 2 + [(3, 2, 6, 6)]
    assert ref.meta["output_names"] == ctx.info.output_names and len(ctx.info.output_names) == 2
    with torch.no_grad():
        got = ctx.model(torch.from_numpy(ref.inputs[-1]))
    for name, tensor in zip(ctx.info.output_names, got):
        assert np.array_equal(ref.outputs[-1][name], tensor.numpy())


def test_a_reference_with_missing_arrays_is_refused(tmp_path):
    path = tmp_path / "reference.npz"
    with path.open("wb") as f:
        reference.write(f, [np.ones((1, 2), np.float32)], [{"y": np.zeros(2, np.float32)}], ["y"], {})
    assert reference.read(path).outputs[0]["y"].shape == (2,)
    with np.load(path) as z:
        kept = {k: z[k] for k in z.files if k != "output.0.0"}
    np.savez(path, **kept)
    with pytest.raises(reference.ReferenceError, match="inconsistent"):
        reference.read(path)
