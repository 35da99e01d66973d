"""`secateurs verify`: re-check an artifact directory where PyTorch is not installed.

A deploy job trusts a directory only if every file is the one the manifest lists (size
and sha256), nothing else is there, the manifest is unedited (its digest, optionally
pinned with ``expect_digest``), the run passed validation, and every ONNX artifact still
reproduces the stored PyTorch outputs in onnxruntime within the recorded tolerances.
Every problem is a failed Check, never an exception: the caller decides the exit code.
Torch-free: stdlib, numpy, onnxruntime, zstandard and torch-free secateurs modules only.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from secateurs import exporters, manifest
from secateurs.spz import safe_relative
from secateurs.validators.results import Check, ValidationResult

REFERENCE = "reference.npz"
REPORT = "report.json"
ORT_LABEL = "onnxruntime vs reference.npz"
FILE_CHECK = "size and sha256 as listed"


def verify_directory(
    directory: Path, provider: str = "CPUExecutionProvider", expect_digest: str | None = None
) -> ValidationResult:
    """Every check on ``directory`` (see the module docstring); bool(result) is the verdict."""
    directory = Path(directory)
    result = ValidationResult(provider=provider)
    if not directory.is_dir():
        cause = "not a directory" if directory.exists() else "not found"
        result.add(Check(str(directory), "artifact directory exists", False, cause))
        return result
    try:
        data = manifest.read(directory)
    except manifest.ManifestError as e:
        result.add(Check(manifest.MANIFEST, "readable", False, _after_path(str(e))))
        return result
    result.add(Check(manifest.MANIFEST, "readable", True, f"{len(data['files'])} files listed"))
    _check_digest(result, data, expect_digest)
    entries = {e["path"]: e for e in data["files"]}
    safe = _check_files(result, directory, data["files"])
    _check_unlisted(result, directory, entries)
    _check_report(result, directory, safe)
    _check_values(result, directory, safe, provider)
    _check_formats(result, directory, entries, safe)
    return result


def failure_line(result: ValidationResult) -> str:
    """The one line a failed verify raises: the first failure, the count, other artifacts."""
    first, rest = result.failures[0], result.failures[1:]
    others = sorted({c.artifact for c in rest} - {first.artifact})
    also = f"; also {', '.join(others[:3])}" + (" ..." if len(others) > 3 else "") if others else ""
    n = len(result.failures)
    line = f"verify failed ({n} of {len(result.checks)} checks): {first.artifact}: {first.name}: {first.detail}{also}"
    return " ".join(line.splitlines())


def computed_digest(directory: Path) -> str | None:
    """The digest of what manifest.json lists (None if it cannot be read)."""
    try:
        return manifest.digest(manifest.read(Path(directory)))
    except manifest.ManifestError:
        return None


def _after_path(message: str) -> str:
    """ManifestError names the full path; the Check already names manifest.json."""
    return message.split(": ", 1)[-1]


def _check_digest(result: ValidationResult, data: dict, expect_digest: str | None) -> None:
    computed, recorded = manifest.digest(data), data.get("digest")
    same = computed == recorded
    detail = computed if same else f"recorded {str(recorded)[:16]}... != {computed[:16]}... of its contents"
    result.add(Check(manifest.MANIFEST, "digest matches its contents", same, detail))
    if expect_digest is not None:
        pinned = computed == expect_digest.lower()
        detail = "" if pinned else f"{computed[:16]}... != expected {expect_digest[:16]}..."
        result.add(Check(manifest.MANIFEST, "digest is --expect-digest", pinned, detail))


def _check_files(result: ValidationResult, directory: Path, listed: list[dict]) -> dict[str, Path]:
    """One Check per listed file; returns the listed paths that are safe to open."""
    safe, seen = {}, set()
    for entry in listed:
        rel = entry["path"]
        problem = "listed twice" if rel in seen else _unsafe(directory, rel)
        seen.add(rel)
        if problem is None:
            path = directory.joinpath(*PurePosixPath(rel).parts)
            safe[rel] = path
            problem = _content_problem(path, entry)
        result.add(Check(rel, FILE_CHECK, problem is None, problem or entry["sha256"]))
    return safe


def _unsafe(directory: Path, rel: str) -> str | None:
    """Why a manifest path must not be opened: absolute, '..', the manifest itself, a symlink."""
    try:
        normal = safe_relative(rel)  # the one check of a relative path, shared with spz's external data
    except ValueError:
        return "path escapes the directory (absolute, '..' or empty)"
    if normal.as_posix() != rel or "\\" in rel:
        return "path escapes the directory (not a plain relative path: '.', empty parts or backslashes)"
    parts = rel.split("/")
    if rel == manifest.MANIFEST:
        return "the manifest lists itself"
    for i in range(1, len(parts) + 1):
        if directory.joinpath(*parts[:i]).is_symlink():
            return "is a symlink" if i == len(parts) else f"goes through a symlink ({'/'.join(parts[:i])})"
    return None


def _content_problem(path: Path, entry: dict) -> str | None:
    if not path.exists():
        return "missing"
    if not path.is_file():
        return "not a regular file"
    size = path.stat().st_size
    if size != entry["size"]:
        return f"size {size} != {entry['size']} listed"
    try:
        digest = manifest.sha256(path)
    except OSError as e:
        return f"unreadable ({e.strerror or e})"
    return None if digest == entry["sha256"] else "sha256 differs"


def _check_unlisted(result: ValidationResult, directory: Path, entries: dict) -> None:
    present = [p.relative_to(directory).as_posix() for p in manifest.listed_files(directory)]
    extra = [p for p in present if p not in entries]
    if not extra:
        result.add(Check(manifest.MANIFEST, "every file is listed", True, f"{len(present)} files"))
        return
    names = ", ".join(extra[:5]) + (f" (+{len(extra) - 5} more)" if len(extra) > 5 else "")
    result.add(Check(names, "listed in the manifest", False, f"{len(extra)} file(s) present but not listed"))


def _check_report(result: ValidationResult, directory: Path, safe: dict[str, Path]) -> None:
    name = "run status is passed"
    if REPORT not in safe:
        result.add(Check(REPORT, name, False, "not listed in the manifest"))
        return
    try:
        status = json.loads(safe[REPORT].read_text()).get("status")
    except FileNotFoundError:
        result.add(Check(REPORT, name, False, "missing"))
        return
    except (OSError, UnicodeDecodeError, ValueError, AttributeError) as e:
        result.add(Check(REPORT, name, False, f"unreadable ({type(e).__name__})"))
        return
    detail = f"status {status!r}" + ("" if status == "passed" else "; only a passed run may deploy")
    result.add(Check(REPORT, name, status == "passed", detail))


def _runs_in_onnxruntime(rel: str) -> bool:
    fmt = exporters.for_file(rel)
    return fmt is not None and exporters.ONNXRUNTIME in fmt.runtimes


def _check_values(result: ValidationResult, directory: Path, safe: dict[str, Path], provider: str) -> None:
    """Each listed file of a format onnxruntime loads, on reference.npz's inputs, at the recorded tolerance."""
    from secateurs import reference
    from secateurs.validators.onnxruntime_run import run_compared
    from secateurs.validators.tolerances import for_provider

    models = [rel for rel in safe if _runs_in_onnxruntime(rel)]
    if not models:
        result.add(Check(manifest.MANIFEST, "lists an ONNX artifact", False, "no *.onnx file listed"))
    if REFERENCE not in safe:
        result.add(Check(REFERENCE, "readable", False, "not listed in the manifest"))
        return
    try:
        ref = reference.read(safe[REFERENCE])
        atol, rtol = for_provider(ref.tolerances, provider)
    except reference.ReferenceError as e:
        result.add(Check(REFERENCE, "readable", False, _after_path(str(e))))
        return
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        result.add(Check(REFERENCE, "readable", False, f"no tolerance recorded for {provider} ({e})"))
        return
    result.tolerances = ref.tolerances
    result.shapes = ["x".join(map(str, x.shape)) for x in ref.inputs]
    result.add(Check(REFERENCE, "readable", True, f"{len(ref.inputs)} inputs, atol {atol:g}, rtol {rtol:g}"))
    for rel in models:
        path = safe[rel]
        if path.is_file():
            checks, _ = run_compared(path, ref.inputs, ref.outputs, atol, rtol, provider, ORT_LABEL)
        else:
            checks = [Check(path.name, ORT_LABEL, False, "missing")]
        for check in checks:
            check.artifact = rel
            result.add(check)


def _check_formats(result: ValidationResult, directory: Path, entries: dict, safe: dict[str, Path]) -> None:
    """Each listed file of a registered format gets that format's own deploy checks."""
    for rel, path in safe.items():
        fmt = exporters.for_file(rel)
        if fmt is not None:
            result.checks.extend(fmt.deploy_checks(rel, path, directory, entries))
