"""The one seam to the rest of secateurs: outputs go through its single atomic writer.

``secateurs.files.AtomicFiles`` writes temp files beside each target and renames them on
commit (a project rule: one atomic writer). Its failures become ``WriteFailed`` here, so
nothing else in this package imports from secateurs; a standalone distribution would
replace only this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from secateurs.errors import OutputError
from secateurs.files import AtomicFiles
from secateurs.spz.errors import WriteFailed


@contextmanager
def atomic_files() -> Iterator[AtomicFiles]:
    """An ``AtomicFiles`` whose errors surface as ``WriteFailed`` (same message)."""
    try:
        with AtomicFiles() as out:
            yield out
    except OutputError as e:
        raise WriteFailed(str(e)) from e
