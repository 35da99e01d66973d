"""Where independent pieces of work run: in this process (``local``) or as Ray tasks (``ray``).

The work is a list of items and one module-level function ``fn(shared, item)``; ``shared``
(a loaded model, its data) is handed over once (``Executor.share``: on Ray, one ``ray.put``)
and every task reads it. The results come back in the order of the items, so the caller
assembles exactly what the local loop would have. A task that fails with a SecateursError
(a user error) comes back as a ``Failed`` holding it, never retried; a programming error
propagates. Ray is an optional extra (``secateurs[ray]``): only ``make("ray")`` imports it,
so neither ``--help`` nor the torch-free layers ever load it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Protocol

from secateurs.errors import SecateursError, UsageError

EXECUTORS = ("local", "ray")
RAY_EXTRA = "pip install 'secateurs[ray]'"


@dataclass(frozen=True)
class Failed:
    """One item whose task raised a SecateursError (``error``), or whose Ray worker died on
    every attempt (an OutputError: the item produced nothing)."""

    error: SecateursError


class Executor(Protocol):
    name: str

    def share(self, value: Any) -> Any:
        """A handle on ``value`` that every task of ``map`` receives as ``shared``."""

    def map(
        self,
        fn: Callable[[Any, Any], Any],
        items: list,
        shared: Any = None,
        cpus: int | list[int] = 1,
        done: Callable[[int, Any], None] | None = None,
    ) -> list:
        """``[fn(shared, item) for item in items]``, each a result or a ``Failed``; ``done(i,
        result)`` is called as each finishes (in completion order on Ray). ``cpus``: the
        CPUs each task holds on Ray (one count, or one per item)."""

    def close(self) -> None:
        """Release what ``make`` started (a local Ray instance); idempotent."""


def call(fn: Callable[[Any, Any], Any], shared: Any, item: Any) -> Any:
    """Run one item, turning a user error into a ``Failed`` result (reported, not retried)."""
    try:
        return fn(shared, item)
    except SecateursError as e:
        return Failed(e)


def make(name: str = "local", address: str | None = None) -> Executor:
    """The executor ``--executor NAME`` asks for; ``ray`` connects to ``address`` (else
    $RAY_ADDRESS, else it starts a local instance). Without Ray installed: UsageError (exit 2)."""
    if name not in EXECUTORS:
        raise UsageError(f"--executor must be one of {', '.join(EXECUTORS)}, got {name!r}")
    if name == "local":
        if address:
            raise UsageError("--ray-address needs --executor ray")
        return import_module("secateurs.executors.local").LocalExecutor()
    try:
        module = import_module("secateurs.executors.ray_tasks")
    except ModuleNotFoundError as e:
        if (e.name or "").partition(".")[0] != "ray":
            raise
        raise UsageError(f"--executor ray needs Ray, which is not installed; {RAY_EXTRA}") from None
    return module.RayExecutor(address)


def unwrap(results: list) -> list:
    """The results, raising the first ``Failed`` one's error: for searches where any failed
    probe fails the whole command (sweep, sensitivity)."""
    for r in results:
        if isinstance(r, Failed):
            raise r.error
    return results
