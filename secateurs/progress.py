"""Progress bars for long steps: drawn on a terminal, silent in CI logs and with --quiet.

with progress(total=len(amounts), label="sweep") as advance:
    for a in amounts:
        ...
        advance(1)
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator

_QUIET = False


def set_quiet(quiet: bool) -> None:
    """The CLI's --quiet; nothing below the CLI needs to thread it through."""
    global _QUIET
    _QUIET = quiet


def enabled() -> bool:
    return not _QUIET and sys.stderr.isatty() and not os.environ.get("CI")


@contextlib.contextmanager
def progress(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; draws a bar on stderr only when it is a terminal."""
    if not enabled() or total <= 0:
        yield lambda _n=1: None
        return
    import click

    with click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True, show_pos=True) as bar:
        yield bar.update
