"""The four sparse artifacts inside the pipeline: smaller, exact, and caught when wrong."""

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import zstandard
from onnx import numpy_helper

from secateurs import exporters, reference
from secateurs.config import RunConfig
from secateurs.exporters import sparse_onnx, spz_container
from secateurs.pipeline.runner import execute
from secateurs.report import ledger
from secateurs.validators.bit_exact import ROUND_TRIP
from tests.models import EVERY_FORMAT, TORCHSCRIPT

ALL = ["load", "prune", "export", "validate"]
EVERY = exporters.names()  # the default leaves model.bitmask.onnx out
ZSTD = f"zstd -{ledger.ZSTD_LEVEL}"


def run(tmp_path, model="builtin:resnet", **kw):
    out = tmp_path / "out"
    ctx, report = execute(RunConfig(model=model, out=out, **{"formats": EVERY, **kw}), ALL)
    return out, ctx, report


def shared(shared_runs, model="builtin:resnet", **kw):
    """The same run (every format), made once per session and shared read-only (conftest.SharedRuns)."""
    return shared_runs.execute(model, ALL, **{"formats": EVERY, **kw})


def checks_for(report, artifact):
    return [c for c in report["validation"]["checks"] if c["artifact"] == artifact]


# The default exporter at 0.5 and 1.0 (the runs of the size and amount-one tests); torchscript,
# whose model.onnx the sparse artifacts are derived from just the same, at 0.0 and 0.9.
@pytest.mark.parametrize(
    ("amount", "exporter"), [(0.0, "torchscript"), (0.5, "auto"), (0.9, "torchscript"), (1.0, "auto")]
)
def test_every_artifact_validates(shared_runs, amount, exporter):
    out, _, report = shared(shared_runs, amount=amount, exporter=exporter)
    assert report["status"] == "passed"
    names = {c["name"] for c in report["validation"]["checks"]}
    assert "outputs bit-identical to model.onnx" in names
    assert ROUND_TRIP in names
    assert "unpacks to model.onnx (sha256)" in names
    for artifact in ("model.sparse.onnx", "model.bitmask.onnx"):
        kinds = {c["name"].split(" @")[0] for c in checks_for(report, artifact)}
        assert {"onnxruntime vs torch", "outputs bit-identical to model.onnx", ROUND_TRIP} <= kinds
    assert any(
        c["name"] == "onnx.checker (full_check)" and c["passed"]
        for c in checks_for(report, "model.bitmask.onnx")
    )


def test_sizes_at_half_sparsity(shared_runs):
    out, _, report = shared(shared_runs, amount=0.5)
    sizes = report["sizes"]
    by_file = {a["file"]: a for a in sizes["artifacts"]}
    onnx_bytes = sizes["model_onnx_bytes"]
    assert by_file["model.onnx.spz"]["size"] < sizes["baselines"][ZSTD]
    assert by_file["model.bitmask.onnx"]["size"] < 0.7 * onnx_bytes
    assert not any(a["larger_than_dense"] for a in sizes["artifacts"])
    assert by_file["model.onnx.spz"]["ratio_to_bound"] <= 1.05
    assert sizes["bound_bytes"] < sizes["pruned_weights_dense_bytes"]
    assert all(set(layer["stored_bytes"]) >= {"model.onnx.spz"} for layer in sizes["layers"])
    md = (out / "report.md").read_text()
    assert "## Size ledger" in md and f"({ZSTD} of model.onnx)" in md and "bound" in md
    assert sizes["baselines_definition"] in md
    assert "not onnxruntime memory or latency" in md


def zstd_size(data: bytes) -> int:
    """The frame of libzstd's multi-threaded mode (threads >= 1), compressed one-shot in memory."""
    return len(zstandard.ZstdCompressor(level=ledger.ZSTD_LEVEL, threads=1).compress(data))


def test_baselines_are_the_exact_compressed_size_of_model_onnx(shared_runs):
    """The streamed figure equals one-shot compression of the whole file, at any worker
    count: report.json must not depend on --threads."""
    out, _, report = shared(shared_runs, amount=0.5)
    expected = {ZSTD: zstd_size((out / "model.onnx").read_bytes())}
    assert report["sizes"]["baselines"] == expected
    assert ledger.baselines(out / "model.onnx", threads=3) == expected


def test_baselines_have_no_size_cut_off(tmp_path):
    """A file over 64 MiB (the old cut-off) gets its exact figure too; mostly zeros, so fast."""
    path = tmp_path / "big.onnx"
    noise = np.random.default_rng(0).integers(0, 256, 1 << 20, dtype=np.uint8).tobytes()
    with open(path, "wb") as f:
        f.write(noise)
        f.truncate(65 << 20)
        f.seek(0, 2)
        f.write(noise)
    assert path.stat().st_size > 64 << 20
    assert ledger.baselines(path, threads=2) == {ZSTD: zstd_size(path.read_bytes())}


def test_coo_uses_narrow_indices_and_strict_forces_int64(shared_runs):
    out, _, _ = shared(shared_runs, amount=0.9, exporter="torchscript")
    narrow = {onnx.TensorProto.INT8, onnx.TensorProto.INT16, onnx.TensorProto.INT32}
    types = {s.indices.data_type for s in onnx.load(str(out / "model.sparse.onnx")).graph.sparse_initializer}
    assert types and types <= narrow | {onnx.TensorProto.INT64} and types & narrow
    out, _, report = shared(
        shared_runs, "tests.models:residual", amount=0.9, exporter="torchscript", onnx_strict=True
    )
    sparse = onnx.load(str(out / "model.sparse.onnx"))
    assert {s.indices.data_type for s in sparse.graph.sparse_initializer} == {onnx.TensorProto.INT64}
    assert any(c["name"] == "onnx.checker" and c["passed"] for c in checks_for(report, "model.sparse.onnx"))


def test_npz_loader_returns_exact_weights(shared_runs):
    from secateurs.sparse.csr_npz import load_csr_matrices, load_csr_npz

    out, ctx, _ = shared(shared_runs, model="tests.models:residual", amount=0.6, exporter="torchscript")
    dense = load_csr_npz(out / "weights.npz")
    for name, w in ctx.pruned_weights().items():
        assert dense[name].tobytes() == w.tobytes()
        assert load_csr_matrices(out / "weights.npz")[name].shape == (w.shape[0], int(np.prod(w.shape[1:])))


def test_formats_can_be_selected_and_derived_need_onnx(tmp_path):
    out, _, report = run(
        tmp_path, model="tests.models:plain", formats=("onnx", "spz"), exporter="torchscript"
    )
    assert {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} == {
        "model.onnx",
        "model.onnx.spz",
        "state/state.json",
        "state/pruned.safetensors",  # no pruned.safetensors among --formats: the state keeps them
        "reference.npz",
        "report.json",
        "report.md",
        "report.html",
        "manifest.json",
    }
    from secateurs.errors import UsageError

    with pytest.raises(UsageError, match="add onnx"):
        run(tmp_path, model="tests.models:plain", formats=("spz",))


def test_validators_catch_a_corrupted_encoding(shared_runs, tmp_path):
    made = shared(shared_runs, amount=0.9, exporter="torchscript")[0]
    out = Path(shutil.copytree(made, tmp_path / "out"))  # changed below
    dense = onnx.load(str(out / "model.onnx"))
    sparse = onnx.load(str(out / "model.sparse.onnx"))
    values = sparse.graph.sparse_initializer[0].values
    arr = numpy_helper.to_array(values).copy()
    arr[0] = np.nextafter(arr[0], np.float32(np.inf))  # one ulp: allclose would pass it
    values.CopyFrom(numpy_helper.from_array(arr, values.name))
    onnx.save(sparse, str(out / "model.sparse.onnx"))
    assert not sparse_onnx.round_trip(out / "model.sparse.onnx", dense).passed

    spz = out / "model.onnx.spz"
    data = bytearray(spz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    spz.write_bytes(bytes(data))
    assert not spz_container.round_trip(spz, out / "model.onnx").passed


def test_split_export_restores_encodings(tmp_path, cli):
    assert cli("prune", "tests.models:residual", "--amount", "0.7", "--out", "w", "-q").exit_code == 0
    assert cli("export", "w", *TORCHSCRIPT, *EVERY_FORMAT, "-q").exit_code == 0
    assert cli("validate", "w", "-q").exit_code == 0
    report = json.loads((tmp_path / "w/report.json").read_text())
    assert report["status"] == "passed"
    assert {"sparse-onnx", "bitmask-onnx", "spz", "npz"} <= set(report["encodings"])
    spz = next(a for a in report["sizes"]["artifacts"] if a["file"] == "model.onnx.spz")
    assert spz["ratio_to_bound"] is not None


@pytest.mark.parametrize("amount", [0.0, 0.9])
def test_a_byte_identical_copy_of_model_onnx_reuses_its_run(shared_runs, amount):
    """At 0.0 no tensor is encoded, so the derived ONNX files are model.onnx again; at 0.9
    they differ and get their own onnxruntime session. Either way every check is reported."""
    out, _, report = shared(shared_runs, amount=amount)
    dense = (out / "model.onnx").read_bytes()
    copies = 0
    for artifact in ("model.sparse.onnx", "model.bitmask.onnx"):
        (same,) = [
            c for c in checks_for(report, artifact) if c["name"] == "outputs bit-identical to model.onnx"
        ]
        copy = (out / artifact).read_bytes() == dense
        copies += copy
        assert same["passed"] and ("byte-identical to model.onnx" in same["detail"]) is copy
        runs = [c for c in checks_for(report, artifact) if c["name"].startswith("onnxruntime vs torch")]
        assert len(runs) == len(reference.read(out / "reference.npz").inputs) and all(
            c["passed"] for c in runs
        )
    assert copies == (2 if amount == 0.0 else 0)
