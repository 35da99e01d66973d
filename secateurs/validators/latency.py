"""onnxruntime latency of several ONNX files, measured side by side so machine load hits all alike.

Every file gets one session with the same options (``onnxruntime_run.session_options``: the
run's --threads, no spinning) and the same seeded input. At each batch size, every session
first runs ``warmup`` times; then ``runs`` rounds follow, each running every session once, in an
order rotated round by round, so no file always runs first or right after another. Each run is
timed with ``time.perf_counter`` around ``session.run``. The result gives, per file and batch,
the median and the 10th-90th percentile spread in milliseconds, and the number of runs.

The larger batch (``large_batch``) is capped so one input stays within ``INPUT_BYTES_CAP``: the
activations of 32 images of a 640x640 detector would hold gigabytes per session.
Torch-free: onnxruntime and numpy only.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from secateurs import cpus
from secateurs.validators.onnxruntime_run import session

WARMUP = 5
DEFAULT_RUNS = 30
LARGE_BATCH = 32
INPUT_BYTES_CAP = 64 * 1024**2  # the larger batch's input tensor at most (float32)


def batches(shape: tuple[int, ...], fixed_batch: bool) -> list[int]:
    """The input's own batch, and (unless the model fixes it) LARGE_BATCH capped by INPUT_BYTES_CAP."""
    own = int(shape[0])
    if fixed_batch:
        return [own]
    per_sample = 4 * int(np.prod(shape[1:], dtype=np.int64))
    large = max(1, min(LARGE_BATCH, INPUT_BYTES_CAP // max(per_sample, 1)))
    return sorted({own, large})


def measure(
    paths: dict[str, Path],
    shape: tuple[int, ...],
    batch_sizes: list[int],
    runs: int = DEFAULT_RUNS,
    warmup: int = WARMUP,
    provider: str = "CPUExecutionProvider",
    seed: int = 0,
) -> dict:
    """Latency of each file in ``paths`` (label -> file) at each batch size; JSON-ready.

    A file onnxruntime cannot load or run gets ``{"error": ...}`` instead of timings; the
    others are still measured.
    """
    sessions, results = {}, {}
    for label, path in paths.items():
        try:
            sessions[label] = session(Path(path), provider)
            results[label] = {}
        except Exception as e:  # onnxruntime's own error types
            results[label] = {"error": _line(e)}
    rng = np.random.default_rng(seed)
    for batch in batch_sizes:
        x = rng.standard_normal((batch, *shape[1:]), dtype=np.float32)
        times = _timed(sessions, x, runs, warmup, results)
        for label, t in times.items():
            ms = np.asarray(t) * 1000.0
            results[label][str(batch)] = {
                "median_ms": float(np.median(ms)),
                "p10_ms": float(np.percentile(ms, 10)),
                "p90_ms": float(np.percentile(ms, 90)),
                "runs": len(t),
            }
    sessions.clear()
    return {
        "batches": list(batch_sizes),
        "runs": runs,
        "warmup": warmup,
        "threads": cpus.onnxruntime_threads(),
        "provider": provider,
        "order": "interleaved: each round runs every file once, the order rotated round by round",
        "artifacts": results,
    }


def _timed(sessions: dict, x: np.ndarray, runs: int, warmup: int, results: dict) -> dict[str, list[float]]:
    """Per label, ``runs`` timings in seconds; a session that fails is dropped with its error."""
    live = sessions  # a failed session leaves it, so later batches skip it
    feeds = {label: {s.get_inputs()[0].name: x} for label, s in live.items()}
    for label in list(live):
        try:
            for _ in range(warmup):
                live[label].run(None, feeds[label])
        except Exception as e:
            results[label] = {"error": _line(e)}
            del live[label]
    times: dict[str, list[float]] = {label: [] for label in live}
    labels = list(live)
    for r in range(runs):
        k = r % len(labels) if labels else 0
        for label in labels[k:] + labels[:k]:
            if label not in live:
                continue
            try:
                t0 = time.perf_counter()
                live[label].run(None, feeds[label])
                times[label].append(time.perf_counter() - t0)
            except Exception as e:
                results[label] = {"error": _line(e)}
                del live[label], times[label]
    return times


def _line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0][:300] if lines else ''}"
