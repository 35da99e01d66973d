"""Progress of long steps, for a person at a terminal and for a CI log.

On a terminal, a bar on stderr. Anywhere else (a CI job, a pipe, a file) one line per
step, ``secateurs: sweep 3/10 amount 0.3 (2.1 s)``: CI systems kill jobs that print
nothing for minutes, and a log line per probe shows where the time went. ``quiet``
prints nothing. The library takes a ``Progress`` as an argument; nothing is global.

    with progress.steps(len(amounts), "sweep") as advance:
        for a in amounts:
            ...
            advance(f"amount {a:g}")
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    quiet: bool = False

    def line(self, text: str) -> None:
        """One ``secateurs: text`` line on stderr (not with ``quiet``)."""
        if not self.quiet:
            print(f"secateurs: {text}", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def steps(self, total: int, label: str) -> Iterator[Callable[[str], None]]:
        """Yield ``advance(detail="")``, to be called once per finished step."""
        if self.quiet or total <= 0:
            yield lambda _detail="": None
        elif on_terminal():
            import click

            with click.progressbar(
                length=total, label=label, file=sys.stderr, show_eta=True, show_pos=True
            ) as bar:
                yield lambda _detail="": bar.update(1)
        else:
            done, last = 0, time.perf_counter()

            def advance(detail: str = "") -> None:
                nonlocal done, last
                done, now = done + 1, time.perf_counter()
                what = f" {detail}" if detail else ""
                self.line(f"{label} {done}/{total}{what} ({now - last:.1f} s)")
                last = now

            yield advance


SILENT = Progress(quiet=True)


def on_terminal() -> bool:
    """stderr is a terminal and not a CI job (which sets CI)."""
    return sys.stderr.isatty() and not os.environ.get("CI")
