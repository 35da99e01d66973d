"""``--executor ray``: each item is a Ray task; the shared value goes to the object store once.

Connects to ``--ray-address`` (else $RAY_ADDRESS), or starts a local instance sized to the
CPUs this process may use, and shuts down only what it started. Each task asks Ray for
``cpus`` CPUs (the ``--threads`` it runs with), so Ray never runs more tasks on a node than
it has CPUs for. A worker that dies mid-task (killed, out of memory) is retried up to
``MAX_RETRIES`` times; a task that raised is not (``retry_exceptions=False``): a user error
comes back as ``Failed`` (``executors.call``), a programming error is raised here.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError

from secateurs import cpus as usable_cpus
from secateurs.errors import OutputError, UsageError
from secateurs.executors import Failed, call

MAX_RETRIES = 3  # attempts after a worker died, per task (Ray's own default)


def _check_reachable(address: str | None, timeout: float = 5.0) -> None:
    """UsageError when ``address`` (host:port, ray://host:port) does not accept a TCP connection:
    ``ray.init`` would retry an unreachable cluster for minutes without an error."""
    match = re.fullmatch(r"(?:ray://)?\[?([^\]/]+?)\]?:(\d+)", address or "")
    if match is None:  # no address (a local instance), "auto", or a form left to Ray
        return
    try:
        socket.create_connection((match[1], int(match[2])), timeout=timeout).close()
    except OSError as e:
        raise UsageError(f"--ray-address {address}: cannot connect to a Ray cluster ({e})") from None


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        self._started = False
        if ray.is_initialized():  # a caller (a test, a notebook) already connected
            return
        address = address or os.environ.get("RAY_ADDRESS") or None
        local = {} if address else {"num_cpus": usable_cpus.usable()}
        _check_reachable(address)
        try:
            ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
                **local,
            )
        except (ConnectionError, ValueError, RuntimeError) as e:
            raise UsageError(f"--ray-address {address}: cannot connect to a Ray cluster ({e})") from None
        self._started = True

    def share(self, value: Any) -> Any:
        return None if value is None else ray.put(value)

    def map(
        self,
        fn: Callable[[Any, Any], Any],
        items: list,
        shared: Any = None,
        cpus: int | list[int] = 1,
        done: Callable[[int, Any], None] | None = None,
    ) -> list:
        task = ray.remote(call)
        counts = cpus if isinstance(cpus, list) else [cpus] * len(items)
        refs = [
            task.options(num_cpus=n, max_retries=MAX_RETRIES, retry_exceptions=False).remote(fn, shared, item)
            for n, item in zip(counts, items)
        ]
        where = {ref: i for i, ref in enumerate(refs)}
        results: list = [None] * len(refs)
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            i = where[ready[0]]
            try:
                results[i] = ray.get(ready[0])
            except RayTaskError as e:  # not a SecateursError: a bug, shown as one
                for ref in pending:
                    ray.cancel(ref)
                raise e.as_instanceof_cause() from None
            except RayError as e:  # the worker died on every attempt
                why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                results[i] = Failed(
                    OutputError(f"its Ray worker died {MAX_RETRIES + 1} times ({type(e).__name__}: {why})")
                )
            if done:
                done(i, results[i])
        return results

    def close(self) -> None:
        if self._started and ray.is_initialized():
            ray.shutdown()
        self._started = False
