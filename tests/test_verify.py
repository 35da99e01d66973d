"""`secateurs verify`: a pristine artifact directory passes; every kind of tampering is exit 1
with one line naming the file and the cause."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from secateurs import manifest
from secateurs.cli import main
from secateurs.verify import verify_directory
from tests.models import EVERY_FORMAT

# Every file `secateurs run --formats <all>` writes; test_every_artifact_is_covered keeps this honest.
ARTIFACTS = [
    "model.bitmask.onnx",
    "model.onnx",
    "model.onnx.spz",
    "model.sparse.onnx",
    "pruned.safetensors",
    "reference.npz",
    "report.html",
    "report.json",
    "report.md",
    "state/state.json",
    "weights.npz",
]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _run(out: Path, *extra):
    return invoke(
        "run", "builtin:lenet", "--exporter", "torchscript", *EVERY_FORMAT, "--out", out, "-q", *extra
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Real artifact directories: the base run, one at another amount, one with external data,
    and one whose validation failed (left in <out>.failed)."""
    root = tmp_path_factory.mktemp("runs")
    for name, extra in [("base", ()), ("other", ("--amount", "0.6")), ("ext", ("--external-data",))]:
        result = _run(root / name, *extra)
        assert result.exit_code == 0, result.output
    assert _run(root / "bad", "--atol", "0", "--rtol", "0").exit_code == 1
    return {n: root / n for n in ("base", "other", "ext")} | {"failed": root / "bad.failed"}


@pytest.fixture
def art(runs, tmp_path) -> Path:
    """A private copy of the base run, free to tamper with."""
    return Path(shutil.copytree(runs["base"], tmp_path / "art"))


def fails(directory: Path, *args) -> str:
    """Run verify, require exit 1 with a one-line error (no traceback); return that line."""
    result = invoke("verify", directory, *args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert all(line.startswith("secateurs: ") for line in result.stderr.splitlines())
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("secateurs: error: verify failed (")
    return line


def flip_byte(path: Path, at: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0xFF
    path.write_bytes(bytes(data))


def rewrite_manifest(directory: Path, edit, recompute_digest: bool = False) -> None:
    data = json.loads((directory / "manifest.json").read_text())
    edit(data)
    if recompute_digest:
        data["digest"] = manifest.digest(data)
    (directory / "manifest.json").write_text(json.dumps(data, indent=2))


def recompute_manifest(directory: Path) -> None:
    (directory / "manifest.json").write_text(json.dumps(manifest.build(directory)))


def entry(data: dict, name: str) -> dict:
    return next(e for e in data["files"] if e["path"] == name)


def test_pristine_copy_passes(art):
    digest = json.loads((art / "manifest.json").read_text())["digest"]
    result = invoke("verify", art, "--expect-digest", digest)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert f"checks passed on CPUExecutionProvider; digest {digest}" in result.stdout


def test_external_data_passes(runs, tmp_path):
    art = Path(shutil.copytree(runs["ext"], tmp_path / "ext"))
    assert (art / "model.onnx.data").is_file()
    result = invoke("verify", art)
    assert result.exit_code == 0, result.output
    flip_byte(art / "model.onnx.data")
    line = fails(art)
    assert "model.onnx.data: size and sha256 as listed: sha256 differs" in line


def test_every_artifact_is_covered(runs):
    assert [e["path"] for e in manifest.read(runs["base"])["files"]] == ARTIFACTS


def test_verify_writes_nothing_into_the_directory(art):
    before = {p: p.stat().st_mtime_ns for p in art.rglob("*")}
    assert invoke("verify", art).exit_code == 0
    assert {p: p.stat().st_mtime_ns for p in art.rglob("*")} == before


def test_result_covers_every_artifact(art):
    result = verify_directory(art)
    assert result and result.provider == "CPUExecutionProvider"
    assert set(result.tolerances) == {"CPUExecutionProvider", "accelerator"}
    checked = {c.artifact for c in result.checks}
    assert set(ARTIFACTS) <= checked
    onnx_runs = {c.artifact for c in result.checks if c.name.startswith("onnxruntime vs reference.npz")}
    assert onnx_runs == {"model.onnx", "model.sparse.onnx", "model.bitmask.onnx"}
    assert any(c.artifact == "model.onnx.spz" and c.name.startswith("unpacks to") for c in result.checks)


@pytest.mark.parametrize("name", ARTIFACTS)
def test_one_flipped_byte_in_any_artifact_fails(art, name):
    flip_byte(art / name)
    line = fails(art)
    assert f": {name}: size and sha256 as listed: sha256 differs" in line


def test_truncated_file_fails(art):
    size = (art / "model.onnx").stat().st_size
    with open(art / "model.onnx", "r+b") as f:
        f.truncate(size - 10)
    line = fails(art)
    assert f"model.onnx: size and sha256 as listed: size {size - 10} != {size} listed" in line


def test_other_valid_model_fails(art, runs):
    shutil.copy(runs["other"] / "model.onnx", art / "model.onnx")
    line = fails(art)
    assert ": model.onnx: size and sha256 as listed:" in line
    assert "; also" not in line  # every failure is model.onnx's: the .spz still unpacks to the listed one


def test_other_model_with_its_manifest_entry_updated_fails_on_the_digest(art, runs):
    shutil.copy(runs["other"] / "model.onnx", art / "model.onnx")

    def edit(data):
        entry(data, "model.onnx").update(
            size=(art / "model.onnx").stat().st_size, sha256=manifest.sha256(art / "model.onnx")
        )

    rewrite_manifest(art, edit)
    line = fails(art)
    assert ": manifest.json: digest matches its contents: recorded " in line
    checks = verify_directory(art).checks
    assert next(c for c in checks if c.artifact == "model.onnx" and c.name.startswith("size")).passed


def test_other_model_with_recomputed_manifest(art, runs):
    """A single swapped file is still caught by value and container checks; the pin catches it too."""
    pinned = manifest.read(art)["digest"]
    shutil.copy(runs["other"] / "model.onnx", art / "model.onnx")
    recompute_manifest(art)
    failed = {(c.artifact, c.name.split(" @ ")[0]) for c in verify_directory(art).failures}
    assert failed == {
        ("model.onnx.spz", "unpacks to model.onnx (sha256)"),
        ("model.onnx", "onnxruntime vs reference.npz"),
    }
    line = fails(art, "--expect-digest", pinned)
    assert "manifest.json: digest is --expect-digest" in line


def test_whole_set_swapped_only_the_pinned_digest_catches_it(art, runs):
    """Another run's complete, self-consistent directory: only --expect-digest can tell."""
    pinned = manifest.read(art)["digest"]
    shutil.rmtree(art)
    shutil.copytree(runs["other"], art)
    assert invoke("verify", art).exit_code == 0
    line = fails(art, "--expect-digest", pinned)
    assert (
        "(1 of " in line
        and f"manifest.json: digest is --expect-digest: {manifest.read(art)['digest'][:16]}" in line
    )


def test_unlisted_file_fails(art):
    (art / "extra.onnx").write_bytes((art / "model.onnx").read_bytes())
    line = fails(art)
    assert "extra.onnx: listed in the manifest: 1 file(s) present but not listed" in line


def test_removed_file_fails(art):
    (art / "report.md").unlink()
    assert "report.md: size and sha256 as listed: missing" in fails(art)


def _change_sha(data):
    entry(data, "model.onnx")["sha256"] = "0" * 64


def _change_size(data):
    entry(data, "weights.npz")["size"] += 1


def _delete_entry(data):
    data["files"].remove(entry(data, "report.html"))


def _add_entry(data):
    data["files"].append({"path": "model2.onnx", "size": 10, "sha256": "1" * 64})


@pytest.mark.parametrize(
    "edit, also",
    [
        (_change_sha, "model.onnx"),
        (_change_size, "weights.npz"),
        (_delete_entry, "report.html"),
        (_add_entry, "model2.onnx"),
    ],
)
def test_edited_manifest_fails_on_the_digest(art, edit, also):
    rewrite_manifest(art, edit)
    line = fails(art)
    assert ": manifest.json: digest matches its contents: recorded " in line
    assert also in line.split("; also ", 1)[1]


@pytest.mark.parametrize(
    "edit, message",
    [
        (_change_sha, "model.onnx: size and sha256 as listed: sha256 differs"),
        (_change_size, "weights.npz: size and sha256 as listed: size"),
        (_delete_entry, "report.html: listed in the manifest: 1 file(s) present but not listed"),
        (_add_entry, "model2.onnx: size and sha256 as listed: missing"),
    ],
)
def test_edited_manifest_with_recomputed_digest_fails_on_the_file(art, edit, message):
    rewrite_manifest(art, edit, recompute_digest=True)
    assert f"checks): {message}" in fails(art)


def test_reference_from_another_run_fails(art, runs):
    shutil.copy(runs["other"] / "reference.npz", art / "reference.npz")
    line = fails(art)
    assert ": reference.npz: size and sha256 as listed: sha256 differs" in line


def test_reference_from_another_run_with_recomputed_manifest_fails_on_values(art, runs):
    shutil.copy(runs["other"] / "reference.npz", art / "reference.npz")
    recompute_manifest(art)
    line = fails(art)
    assert (
        "model.bitmask.onnx: onnxruntime vs reference.npz @ 1x1x32x32: output: 10 of 10 elements outside"
        in line
    )
    assert line.endswith("; also model.onnx, model.sparse.onnx")


def test_failed_run_does_not_verify(runs, tmp_path):
    art = Path(shutil.copytree(runs["failed"], tmp_path / "failed"))
    line = fails(art)
    assert "report.json: run status is passed: status 'failed'; only a passed run may deploy" in line


def test_missing_directory_fails(tmp_path):
    line = fails(tmp_path / "nowhere")
    assert line.endswith(f"{tmp_path / 'nowhere'}: artifact directory exists: not found")


@pytest.mark.parametrize(
    "content, cause",
    [(None, "not found"), ("{not json", "unreadable"), ('{"schema": "other"}', "not a secateurs.manifest/2")],
)
def test_missing_or_broken_manifest_fails(art, content, cause):
    if content is None:
        (art / "manifest.json").unlink()
    else:
        (art / "manifest.json").write_text(content)
    assert f"checks): manifest.json: readable: {cause}" in fails(art)


def test_symlinked_artifact_fails(art, tmp_path):
    outside = tmp_path / "outside.onnx"
    shutil.move(art / "model.onnx", outside)
    os.symlink(outside, art / "model.onnx")
    assert "model.onnx: size and sha256 as listed: is a symlink" in fails(art)


@pytest.mark.parametrize("path", ["../outside.onnx", "/etc/passwd", "a/../../x.onnx"])
def test_manifest_path_escaping_the_directory_fails(art, tmp_path, path):
    (tmp_path / "outside.onnx").write_bytes((art / "model.onnx").read_bytes())
    rewrite_manifest(
        art, lambda d: d["files"].append({"path": path, "size": 1, "sha256": "2" * 64}), recompute_digest=True
    )
    assert f"checks): {path}: size and sha256 as listed: path escapes the directory" in fails(art)


def test_no_onnx_artifact_fails(art):
    for name in ("model.onnx", "model.sparse.onnx", "model.bitmask.onnx"):
        (art / name).unlink()
    (art / "model.onnx.spz").unlink()
    recompute_manifest(art)
    assert "manifest.json: lists an ONNX artifact: no *.onnx file listed" in fails(art)


def test_unknown_provider_is_a_usage_error(art):
    result = invoke("verify", art, "--provider", "bogus")
    assert result.exit_code == 2, result.output
    assert "'--provider': not available in this onnxruntime build" in result.stderr


@pytest.mark.parametrize("value", ["abc", "g" * 64, "0" * 65])
def test_malformed_expect_digest_is_a_usage_error(art, value):
    result = invoke("verify", art, "--expect-digest", value)
    assert result.exit_code == 2, result.output
    assert "is not a sha256 digest" in result.stderr


def test_expect_digest_in_upper_case_passes(art):
    assert invoke("verify", art, "--expect-digest", manifest.read(art)["digest"].upper()).exit_code == 0


def test_json_output(art, tmp_path):
    flip_byte(art / "report.md")
    fails(art, "--json", tmp_path / "v.json")
    data = json.loads((tmp_path / "v.json").read_text())
    assert data["passed"] is False and data["n_failed"] == 1
    assert data["digest"] == manifest.read(art)["digest"] and data["directory"] == str(art)
    assert [c["artifact"] for c in data["checks"] if not c["passed"]] == ["report.md"]


def test_junit_output(art, tmp_path):
    assert invoke("verify", art, "--junit", tmp_path / "ok.xml").exit_code == 0
    ok = ET.parse(tmp_path / "ok.xml").getroot()
    assert list(ok.iter("testcase")) and not list(ok.iter("failure"))
    flip_byte(art / "model.onnx.spz")
    fails(art, "--junit", tmp_path / "bad.xml")
    bad = ET.parse(tmp_path / "bad.xml").getroot()
    cases, failures = list(bad.iter("testcase")), list(bad.iter("failure"))
    assert len(cases) == len(list(ok.iter("testcase")))
    assert len(failures) >= 1 and all(f.get("type") == "ValidationFailed" for f in failures)
    assert {c.get("classname") for c in cases if c.find("failure") is not None} >= {"model.onnx.spz"}


def test_quiet_prints_only_the_error(art):
    assert invoke("verify", art, "-q").output == ""
    flip_byte(art / "report.md")
    result = invoke("verify", art, "-q")
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
