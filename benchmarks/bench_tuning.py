"""Wall time of `secateurs sweep` and `secateurs sensitivity` against one plain `secateurs run`.

Run as ``make bench`` (``.venv/bin/python benchmarks/bench_tuning.py``). Every command is a
whole fresh process (``python -m secateurs.cli``, imports included) on ``builtin:resnet``
with the default thread settings and the default --formats, timed from start to exit,
median of ``--reps``. The ratio is each command's median over the plain run's median. The
CPU column (user + system seconds of the process) is less swayed by other jobs on a shared
machine than the wall time, though thread pools waiting on busy CPUs inflate it too.
Prints a markdown table and writes it to benchmarks/TUNING.md (``--no-write``: print only).
``--checkout DIR`` times another checkout of secateurs (e.g. an older commit) with this
same script, for before/after numbers.

A script, not a test: it fails only when a command fails.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "TUNING.md"
MODEL = "builtin:resnet"
EVAL = ["--eval", "builtin:digits"]
BUDGET = ["--max-accuracy-drop", "0.01"]

# (label, argv after `secateurs`); the first is the plain run every ratio is taken against.
COMMANDS: list[tuple[str, list[str]]] = [
    ("run (plain, --amount 0.3)", ["run", MODEL]),
    ("sweep (10 default amounts)", ["sweep", MODEL]),
    ("sweep --exporter torchscript", ["sweep", MODEL, "--exporter", "torchscript"]),
    ("sweep --eval builtin:digits", ["sweep", MODEL, *EVAL]),
    ("sensitivity --eval builtin:digits", ["sensitivity", MODEL, *EVAL]),
    ("sensitivity --eval builtin:digits --max-accuracy-drop 0.01", ["sensitivity", MODEL, *EVAL, *BUDGET]),
    ("run --auto --eval builtin:digits --max-accuracy-drop 0.01", ["run", MODEL, "--auto", *EVAL, *BUDGET]),
]


def timed(argv: list[str], checkout: Path, scratch: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one whole `secateurs ...` process writing into a fresh --out."""
    out = Path(tempfile.mkdtemp(dir=scratch)) / "out"
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    env.pop("CI", None)  # progress lines are not what is timed
    cmd = [sys.executable, "-m", "secateurs.cli", *argv, "--out", str(out), "-q"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=scratch, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def commit(checkout: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def table(rows: list[tuple[str, list[tuple[float, float]]]]) -> list[str]:
    """One line per command: median wall seconds, each run's, the ratio, median CPU seconds."""
    base = statistics.median(wall for wall, _ in rows[0][1])
    lines = [
        "| command | seconds (median) | runs | ratio to one plain run | CPU seconds (median) |",
        "|---|---|---|---|---|",
    ]
    for label, times in rows:
        wall = statistics.median(w for w, _ in times)
        runs = ", ".join(f"{w:.1f}" for w, _ in times)
        cpu = statistics.median(c for _, c in times)
        lines.append(f"| `{label}` | {wall:.1f} | {runs} | {wall / base:.2f}× | {cpu:.1f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--checkout", type=Path, default=ROOT, help="the secateurs checkout to time")
    ap.add_argument("--only", help="comma-separated labels' first words to run (e.g. run,sweep)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave benchmarks/TUNING.md")
    args = ap.parse_args()
    checkout = args.checkout.resolve()
    wanted = set(args.only.split(",")) if args.only else None
    chosen = [c for c in COMMANDS if wanted is None or c[0].split()[0] in wanted or c is COMMANDS[0]]
    rows = []
    with tempfile.TemporaryDirectory(prefix="secateurs-bench-tuning-") as tmp:
        timed(COMMANDS[0][1], checkout, Path(tmp))  # warm-up: page cache, .pyc files
        for label, argv in chosen:
            times = []
            for _ in range(args.reps):
                times.append(timed(argv, checkout, Path(tmp)))
                print(
                    f"{label}: {times[-1][0]:.1f} s ({times[-1][1]:.1f} s CPU)", file=sys.stderr, flush=True
                )
            rows.append((label, times))
    lines = [
        "# `secateurs sweep` and `sensitivity` timing",
        "",
        f"Generated by `benchmarks/bench_tuning.py` (`make bench`) on {date.today().isoformat()},"
        f" commit {commit(checkout)}, {os.cpu_count()} CPUs ({platform.machine()}), default threads."
        f" Each command is a whole `python -m secateurs.cli ... -q` process on `{MODEL}` with the"
        f" default --formats; median of {args.reps}, seconds. The ratio is against one plain `run`.",
        "",
        *table(rows),
        "",
    ]
    print("\n".join(lines))
    if not args.no_write:
        OUT.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
