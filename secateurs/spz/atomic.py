"""Write one or more files all-or-nothing: temp files beside each target, then os.replace.

On any error the temp files (and folders this created) are removed, so a failed pack
or unpack leaves nothing at its output paths.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from secateurs.errors import OutputError


class AtomicFiles:
    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []
        self._made_dirs: list[Path] = []

    def open(self, target: Path):
        """A binary file object whose contents become ``target`` on ``commit``."""
        if target.is_symlink():
            raise OutputError(f"{target}: is a symlink; refusing to write through it")
        if target.is_dir():
            raise OutputError(f"{target}: is a directory")
        self._make_parent(target.parent)
        try:
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        except OSError as e:
            raise OutputError(f"{target}: cannot create a temporary file ({e.strerror or e})") from e
        self._pending.append((Path(tmp), target))
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
        umask = os.umask(0)
        os.umask(umask)
        try:
            for tmp, target in self._pending:
                os.chmod(tmp, 0o666 & ~umask)
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
