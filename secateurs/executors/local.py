"""``--executor local``: every item in this process, one after another (today's behaviour)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from secateurs.executors import call


class LocalExecutor:
    name = "local"

    def share(self, value: Any) -> Any:
        return value

    def map(
        self,
        fn: Callable[[Any, Any], Any],
        items: list,
        shared: Any = None,
        cpus: int | list[int] = 1,
        done: Callable[[int, Any], None] | None = None,
    ) -> list:
        results = []
        for i, item in enumerate(items):
            results.append(call(fn, shared, item))
            if done:
                done(i, results[-1])
        return results

    def close(self) -> None:
        pass
