"""Safe output handling: staging directories, atomic promotion, atomic single-file writes.

A run writes into ``<out>.staging-<pid>`` beside ``<out>`` (same filesystem, so the
final rename is atomic). Only a fully validated run replaces ``<out>``; a failed
validation goes to ``<out>.failed``; anything else removes the staging directory.
A previous good ``<out>`` is never touched until the new one is complete.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from secateurs import manifest
from secateurs.errors import InputError, OutputError, UsageError
from secateurs.manifest import MANIFEST

STAGING_TAG = ".staging-"


# A directory holding one of these was written by secateurs (run, a stage, sweep or
# sensitivity): replacing it as a whole is what --out promises. Anything else is the user's.
OUTPUT_MARKERS = (MANIFEST, "state", "sweep.json", "sensitivity.json")


def check_out_dir(out: Path) -> None:
    """Refuse outputs we must not replace, before any work: a symlink, a plain file, the
    current directory or one above it, and a non-empty directory secateurs did not write
    (an output directory is replaced as a whole, so its other files would be lost)."""
    if out.is_symlink():
        raise OutputError(f"{out}: output path is a symlink; refusing to write through it")
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: output path exists and is not a directory")
    here = Path.cwd().resolve()
    if out.resolve() == here or out.resolve() in here.parents:
        raise UsageError(
            f"--out {out}: the output directory is replaced as a whole, so it cannot be the current"
            " directory or one above it; name a new directory"
        )
    if out.is_dir() and any(out.iterdir()) and not any((out / m).exists() for m in OUTPUT_MARKERS):
        raise UsageError(
            f"--out {out}: the directory holds files secateurs did not write, and an output directory"
            " is replaced as a whole; name a new (or empty) directory, or an earlier secateurs output"
        )


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


def pid_tagged_temp(prefix: str) -> str:
    """A temp-directory prefix that names this process, ``<prefix><pid>-``, so that
    ``clean_stale_temp`` can tell a directory a killed process left from a live one's."""
    return f"{prefix}{os.getpid()}-"


def clean_stale_temp(prefix: str) -> None:
    """Remove the system temp directories ``pid_tagged_temp(prefix)`` named whose process is
    gone (a Ray worker killed mid-task leaves its temp directory; the retry removes it)."""
    import tempfile

    for stale in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        pid = stale.name[len(prefix) :].split("-", 1)[0]
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


@contextlib.contextmanager
def staged(out: Path):
    """Write a whole output directory: yield a staging directory beside ``out``, which
    replaces ``out`` when the block succeeds and is removed when anything in it fails, so a
    previous good ``out`` is never half-overwritten."""
    staging = make_staging(out)
    try:
        yield staging
        promote(staging, out)
    except BaseException:
        discard(staging)
        raise


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)


def remove_stale(directory: Path) -> bool:
    """Remove a directory an earlier run left (``<out>.failed`` once ``<out>`` is good again).

    A symlink or a file there is not ours and is left alone. True when it was removed.
    """
    if directory.is_symlink() or not directory.is_dir():
        return False
    shutil.rmtree(directory, ignore_errors=True)
    return not directory.exists()


def write_text(path: Path, text: str) -> None:
    """Write a file atomically (temp file + rename), never following a symlink at ``path``."""
    write_bytes(path, text.encode())


def write_bytes(path: Path, data: bytes) -> None:
    """Write one file atomically (see ``AtomicFiles``), synced to disk before the rename."""
    write_with(path, lambda f: f.write(data))


def write_with(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """``write_bytes`` for a writer: ``write(f)`` fills the seekable binary file ``f``, so a
    large file is streamed to disk instead of being built in memory first. Raises OutputError."""
    try:
        with AtomicFiles(make_parents=False) as out:
            with out.open(path) as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            out.commit()
    except OSError as e:
        reason = "disk full" if e.errno == errno.ENOSPC else (e.strerror or str(e))
        raise OutputError(f"{path}: write failed ({reason})") from e


class AtomicFiles:
    """Write one or more files all-or-nothing: temp files beside each target, then os.replace.

    Temp files are created with mode 0o666 (``os.open``), so the kernel applies the
    process umask and nothing reads or changes it. On any error the temp files (and the
    folders this created) are removed, so a failed write leaves nothing at its targets.
    A symlink or a directory at a target is refused, never written through.
    """

    def __init__(self, make_parents: bool = True) -> None:
        self._make_parents = make_parents  # False: a missing folder is an error, as for open()
        self._pending: list[tuple[Path, Path]] = []
        self._made_dirs: list[Path] = []

    def open(self, target: Path):
        """A binary file object whose contents become ``target`` on ``commit``."""
        if target.is_symlink():
            raise OutputError(f"{target}: is a symlink; refusing to write through it")
        if target.is_dir():
            raise OutputError(f"{target}: is a directory")
        if self._make_parents:
            self._make_parent(target.parent)
        for _ in range(100):
            tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                break
            except FileExistsError:
                continue
            except OSError as e:
                raise OutputError(f"{target}: cannot create a temporary file ({e.strerror or e})") from e
        else:
            raise OutputError(f"{target}: cannot create a temporary file (names exhausted)")
        self._pending.append((tmp, target))
        return os.fdopen(fd, "wb")

    def _make_parent(self, parent: Path) -> None:
        missing = []
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        for folder in reversed(missing):
            try:
                folder.mkdir()
            except OSError as e:
                raise OutputError(f"{folder}: cannot create folder ({e.strerror or e})") from e
            self._made_dirs.append(folder)

    def commit(self) -> None:
        try:
            for tmp, target in self._pending:
                os.replace(tmp, target)
        except OSError as e:
            self.abort()
            raise OutputError(f"{target}: cannot move the output into place ({e.strerror or e})") from e
        self._pending.clear()

    def abort(self) -> None:
        for tmp, _ in self._pending:
            tmp.unlink(missing_ok=True)
        self._pending.clear()
        for folder in reversed(self._made_dirs):
            try:
                folder.rmdir()
            except OSError:
                pass
        self._made_dirs.clear()

    def __enter__(self) -> AtomicFiles:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


def write_json(path: Path, data: dict) -> None:
    """Indented JSON; NaN and infinities are written as the strings "nan"/"inf" (see ``finite``)."""
    write_text(path, json.dumps(finite(data), indent=2, sort_keys=False, allow_nan=False) + "\n")


def read_json(path: Path, schema: str, what: str, missing: str) -> dict:
    """A JSON object written by secateurs whose ``schema`` must be ``schema``.

    InputError (exit 3) names the file: ``missing`` says what to do when it is absent,
    ``what`` names it when it is unreadable.
    """
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: not found; {missing}") from None
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: unreadable {what} ({e})") from e
    if not isinstance(data, dict) or data.get("schema") != schema:
        raise InputError(f"{path}: not a {schema} file")
    return data


def finite(obj):
    """JSON has no NaN/Inf: write them as strings rather than emit invalid JSON.

    ``float()`` reads them back (``float("inf")``), which is what the readers do.
    """
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def write_manifest(directory: Path, run: dict | None = None) -> dict:
    """Hash every file in ``directory`` into manifest.json (see secateurs.manifest); written last."""
    data = manifest.build(directory, run)
    write_json(directory / MANIFEST, data)
    return data
