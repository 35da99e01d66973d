"""Safe output handling: staging directories, atomic promotion, atomic single-file writes.

A run writes into ``<out>.staging-<pid>`` beside ``<out>`` (same filesystem, so the
final rename is atomic). Only a fully validated run replaces ``<out>``; a failed
validation goes to ``<out>.failed``; anything else removes the staging directory.
A previous good ``<out>`` is never touched until the new one is complete.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

from secateurs import manifest
from secateurs.errors import OutputError
from secateurs.manifest import MANIFEST

STAGING_TAG = ".staging-"


def check_out_dir(out: Path) -> None:
    """Refuse outputs we must not replace: symlinks and plain files."""
    if out.is_symlink():
        raise OutputError(f"{out}: output path is a symlink; refusing to write through it")
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: output path exists and is not a directory")


def make_staging(out: Path) -> Path:
    check_out_dir(out)
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        clean_stale_staging(out)
        staging = parent / f"{out.name}{STAGING_TAG}{os.getpid()}"
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir()
    except OSError as e:
        raise OutputError(f"{parent}: cannot create a staging directory ({e.strerror or e})") from e
    return staging


def clean_stale_staging(out: Path) -> None:
    """Remove staging directories left by runs that were killed (their pid is gone)."""
    for stale in out.parent.glob(f"{out.name}{STAGING_TAG}*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)) and stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def promote(staging: Path, target: Path) -> None:
    """Swap ``staging`` into ``target``: the old target is moved aside, then deleted."""
    check_out_dir(target)
    old = target.with_name(f"{target.name}.old-{os.getpid()}")
    try:
        if target.exists():
            os.replace(target, old)
        os.replace(staging, target)
    except OSError as e:
        if old.exists() and not target.exists():
            os.replace(old, target)
        raise OutputError(f"{target}: cannot move outputs into place ({e.strerror or e})") from e
    shutil.rmtree(old, ignore_errors=True)


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)


def write_text(path: Path, text: str) -> None:
    """Write a file atomically (temp file + rename), never following a symlink at ``path``."""
    write_bytes(path, text.encode())


def write_bytes(path: Path, data: bytes) -> None:
    if path.is_symlink():
        raise OutputError(f"{path}: is a symlink; refusing to write through it")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        reason = "disk full" if e.errno == errno.ENOSPC else (e.strerror or str(e))
        raise OutputError(f"{path}: write failed ({reason})") from e


def write_json(path: Path, data: dict) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n")


def _file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def finalize_modes(directory: Path) -> None:
    """Give staged files the usual umask permissions (temp files are created 0600)."""
    mode = _file_mode()
    for p in directory.rglob("*"):
        if p.is_file() and not p.is_symlink():
            os.chmod(p, mode)


def write_manifest(directory: Path, run: dict | None = None) -> dict:
    """Hash every file in ``directory`` into manifest.json (see secateurs.manifest); written last."""
    data = manifest.build(directory, run)
    write_json(directory / MANIFEST, data)
    return data
