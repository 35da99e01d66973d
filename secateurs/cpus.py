"""How many CPUs this process may really use, and the thread count onnxruntime sessions get.

torch and onnxruntime size their thread pools by the machine's cores, not by what the
process may use: on a 2-core CI runner, or in a container limited by a cgroup CPU quota,
both pools oversubscribe it (a sweep measured 38 s with the defaults, 11 s with one
thread). The usable count is the smallest of the CPU affinity mask
(``os.sched_getaffinity``), the cgroup v2 quota (``cpu.max``) and the cgroup v1 quota
(``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``), a quota rounded down, and at least 1.

Torch-free, so ``secateurs verify`` sizes its onnxruntime sessions with it too;
``secateurs.threads.apply`` also sets torch's pool.
"""

from __future__ import annotations

import os
from pathlib import Path

from secateurs.errors import UsageError

CGROUP_ROOT = Path("/sys/fs/cgroup")

_onnxruntime_threads: int | None = None  # set by use(); None: usable() at session creation


def usable(cgroup_root: Path = CGROUP_ROOT) -> int:
    """The CPUs this process may use: min(affinity, cgroup v2 quota, cgroup v1 quota), >= 1."""
    limits = [_affinity(), _cgroup_v2(cgroup_root), _cgroup_v1(cgroup_root)]
    known = [n for n in limits if n is not None]
    return max(1, min(known)) if known else 1


def resolve(requested: int | None, cgroup_root: Path = CGROUP_ROOT) -> int:
    """``requested`` threads (checked), or the usable CPU count when it is None."""
    if requested is None:
        return usable(cgroup_root)
    return check(requested)


def check(value) -> int:
    """A thread count is an integer >= 1; anything else is a usage error, never clamped."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"--threads must be an integer >= 1, got {value!r}")
    return value


def use(count: int) -> int:
    """Size every onnxruntime session created from now on (``onnxruntime_threads``)."""
    global _onnxruntime_threads
    _onnxruntime_threads = check(count)
    return count


def onnxruntime_threads() -> int:
    """The intra-op thread count for a new onnxruntime session."""
    return _onnxruntime_threads if _onnxruntime_threads is not None else usable()


def _affinity() -> int | None:
    getaffinity = getattr(os, "sched_getaffinity", None)  # Linux; absent on macOS and Windows
    if getaffinity is None:
        return os.cpu_count()
    try:
        return len(getaffinity(0))
    except OSError:
        return os.cpu_count()


def _cgroup_v2(root: Path) -> int | None:
    """``cpu.max`` holds ``"<quota> <period>"`` in microseconds, or ``"max <period>"``."""
    text = _read(root / "cpu.max")
    if text is None:
        return None
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    return _quota(parts[0], parts[1])


def _cgroup_v1(root: Path) -> int | None:
    """``cpu.cfs_quota_us`` is -1 when unlimited; the files sit in ``cpu/`` or ``cpu,cpuacct/``."""
    for folder in (root / "cpu", root / "cpu,cpuacct", root):
        quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
        if quota is not None and period is not None:
            return _quota(quota, period)
    return None


def _quota(quota: str, period: str) -> int | None:
    try:
        q, p = int(quota), int(period)
    except ValueError:
        return None
    if q <= 0 or p <= 0:
        return None
    return max(1, q // p)  # rounded down, as Go's automaxprocs: 1.5 CPUs of quota run 1 thread


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
