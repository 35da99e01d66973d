"""External data locations: relative paths that must stay inside the model's folder.

A location comes from the model (pack) or from the container (unpack); both are
untrusted. Absolute paths, drive letters and ``..`` components are refused under both
POSIX and Windows spelling, and on pack the resolved path (symlinks followed) must
still lie inside the folder.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath


def safe_relative(location: str) -> PurePosixPath:
    """``location`` as a normalized relative POSIX path; ValueError if it could escape."""
    win = PureWindowsPath(location)
    posix = PurePosixPath(location)
    if not location or "\x00" in location:
        raise ValueError(f"external data location {location!r} is empty or holds a NUL byte")
    if posix.is_absolute() or win.is_absolute() or win.drive or win.root:
        raise ValueError(f"external data location {location!r} is an absolute path")
    if ".." in posix.parts or ".." in win.parts:
        raise ValueError(f"external data location {location!r} leaves the model's folder")
    parts = [p for p in posix.parts if p != "."]
    if not parts:
        raise ValueError(f"external data location {location!r} names no file")
    return PurePosixPath(*parts)


def resolve_inside(folder: Path, location: str) -> Path:
    """The file ``location`` names relative to ``folder``, checked to stay inside it."""
    rel = safe_relative(location)
    root = folder.resolve()
    target = (root / rel).resolve()
    if not target.is_relative_to(root) or target == root:
        raise ValueError(f"external data location {location!r} resolves outside the model's folder")
    return target
