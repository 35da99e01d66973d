"""manifest.json: the sha256 and size of every file in an artifact directory, written last.

The manifest has two parts. ``files`` and its ``digest`` describe *what was made*: for the
same inputs, settings and environment they are byte-identical from run to run, so the
digest names the artifact set and can be pinned (``secateurs verify --expect-digest``).
``run`` holds the wall-clock facts of this run (when, how long); it is not covered by the
digest and no hashed file carries them. Standard library only: `secateurs verify` reads
this where PyTorch is not installed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

MANIFEST = "manifest.json"
SCHEMA = "secateurs.manifest/2"


class ManifestError(Exception):
    """manifest.json is missing, unreadable or malformed (verify reports it as a failed check)."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def listed_files(directory: Path) -> list[Path]:
    """Every regular file under ``directory`` except the manifest itself, sorted by path."""
    return sorted(
        p
        for p in directory.rglob("*")
        if (p.is_file() or p.is_symlink()) and p.relative_to(directory).as_posix() != MANIFEST
    )


def digest(manifest: dict) -> str:
    """sha256 of the canonical JSON of the hashed part (schema + files)."""
    hashed = {"schema": manifest.get("schema"), "files": manifest.get("files")}
    canonical = json.dumps(hashed, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def build(directory: Path, run: dict | None = None) -> dict:
    manifest = {
        "schema": SCHEMA,
        "files": [
            {"path": p.relative_to(directory).as_posix(), "size": p.stat().st_size, "sha256": sha256(p)}
            for p in listed_files(directory)
        ],
    }
    manifest["digest"] = digest(manifest)
    manifest["run"] = run or {}
    return manifest


def read(directory: Path) -> dict:
    """The manifest of ``directory``, structurally checked; raises ManifestError with the reason."""
    path = directory / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ManifestError(f"{path}: not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ManifestError(f"{path}: unreadable ({e})") from e
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ManifestError(f"{path}: not a {SCHEMA} manifest")
    entries = data.get("files")
    if not isinstance(entries, list) or not all(_entry_ok(e) for e in entries):
        raise ManifestError(f"{path}: malformed 'files' list")
    return data


def _entry_ok(entry) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("path"), str)
        and isinstance(entry.get("size"), int)
        and isinstance(entry.get("sha256"), str)
        and len(entry["sha256"]) == 64
    )
