"""gzip and zstd levels on real model.onnx files: size, speed, and the gap to the strongest.

Not a test: run by `make bench-size`; prints the tables and writes the "compressors" section
of benchmarks/SIZE.md. Each model is pruned at each amount and exported (model.onnx only,
dynamo, no validation). Its model.onnx is then compressed whole, streamed in 1 MiB chunks as
the size ledger does, at gzip -1/-6/-9 (zlib, gzip container, mtime 0) and zstd -1/-3/-9/-19
and the ledger's level,
zstd once single-threaded and once in its multi-threaded mode with the usable CPUs as workers.
The size ledger of `secateurs run` reports zstd at secateurs.report.ledger.ZSTD_LEVEL,
multi-threaded; this is where that level is chosen, and where the strongest levels are
measured. The run's own figure must equal this script's, byte for byte; the run's export and
report stage times are shown beside it (the report stage must stay under half the export's).

    python benchmarks/bench_compressors.py             # ~5 minutes on 2 quiet cores
    python benchmarks/bench_compressors.py --quick     # without gzip -9 and zstd -19
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

import zstandard

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_size import write_section  # noqa: E402
from secateurs import cpus  # noqa: E402
from secateurs.config import RunConfig  # noqa: E402
from secateurs.pipeline.runner import execute  # noqa: E402
from secateurs.report import ledger  # noqa: E402

MODELS = ("builtin:resnet", "benchmarks.resnet:resnet18", "benchmarks.resnet:resnet50")
AMOUNTS = (0.3, 0.7)
GZIP_LEVELS = (1, 6, 9)
ZSTD_LEVELS = tuple(sorted({1, 3, 9, 19, ledger.ZSTD_LEVEL}))  # and the ledger's own
STRONGEST = {"gzip": 9, "zstd": 19}
ST_STRONGEST_LIMIT = 64 << 20  # zstd -19 single-threaded above this takes minutes; the MT figure stays
MARKERS = ("<!-- compressors:begin -->", "<!-- compressors:end -->")


def gzip_bytes(path: Path, level: int) -> int:
    gz = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(ledger.CHUNK_BYTES):
            n += len(gz.compress(chunk))
    return n + len(gz.flush())


def zstd_bytes(path: Path, level: int, threads: int) -> int:
    zs = zstandard.ZstdCompressor(level=level, threads=threads).compressobj(size=path.stat().st_size)
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(ledger.CHUNK_BYTES):
            n += len(zs.compress(chunk))
    return n + len(zs.flush())


def settings(size: int, quick: bool, workers: int) -> list[tuple[str, int, int]]:
    """(compressor, level, zstd threads; 0: single-threaded) in table order."""
    out = [("gzip", level, 0) for level in GZIP_LEVELS]
    for level in ZSTD_LEVELS:
        out += [("zstd", level, 0), ("zstd", level, workers)]
    if quick:
        out = [s for s in out if s[1] != STRONGEST[s[0]]]
    return [s for s in out if not (s[:2] == ("zstd", 19) and s[2] == 0 and size > ST_STRONGEST_LIMIT)]


def timed(path: Path, setting: tuple[str, int, int], reps: int) -> dict:
    kind, level, threads = setting
    walls, cpu_times = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        n = gzip_bytes(path, level) if kind == "gzip" else zstd_bytes(path, level, threads)
        walls.append(time.perf_counter() - t)
        cpu_times.append(time.process_time() - c)
    return {"bytes": n, "wall": statistics.median(walls), "cpu": statistics.median(cpu_times)}


def measure(model: str, amount: float, tmp: Path, quick: bool, reps: int, workers: int) -> dict:
    out = tmp / f"{model.replace(':', '_')}-{amount}"
    cfg = RunConfig(model=model, out=out, amount=amount, formats=("onnx",))
    ctx, report = execute(cfg, ["load", "prune", "export"])
    path = out / "model.onnx"
    size = path.stat().st_size
    results = {}
    for s in settings(size, quick, workers):
        strongest = s[1] == STRONGEST[s[0]]
        results[s] = timed(path, s, 1 if strongest else reps)
        print(f"{model} {amount} {label(s)}: {results[s]['bytes'] / size:.4f}", file=sys.stderr)
    expected = {f"zstd -{ledger.ZSTD_LEVEL}": results[chosen(workers)]["bytes"]}
    if report["sizes"]["baselines"] != expected:
        raise SystemExit(
            f"{model} at {amount}: the run's baselines {report['sizes']['baselines']} != {expected}"
        )
    stages = {k: ctx.timings[k] for k in ("export", "report")}
    return {"model": model, "amount": amount, "size": size, "results": results, "stages": stages}


def chosen(workers: int) -> tuple[str, int, int]:
    """The setting whose figure the size ledger reports."""
    return ("zstd", ledger.ZSTD_LEVEL, workers)


def label(setting: tuple[str, int, int]) -> str:
    kind, level, threads = setting
    return f"{kind} -{level}" + (f" -T{threads}" if threads else "")


def strongest(row: dict, kind: str) -> int | None:
    sizes = [r["bytes"] for s, r in row["results"].items() if s[:2] == (kind, STRONGEST[kind])]
    return min(sizes) if sizes else None


def table(row: dict) -> str:
    size = row["size"]
    head = ["setting", "bytes / model.onnx", "gap to strongest", "MB/s (wall)", "MB/s (CPU)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s, r in row["results"].items():
        best = strongest(row, s[0])
        gap = f"{r['bytes'] / best - 1:+.2%}" if best else ""
        cells = [label(s), f"{r['bytes'] / size:.4f}", gap, f"{size / r['wall'] / 1e6:.1f}"]
        lines.append("| " + " | ".join([*cells, f"{size / r['cpu'] / 1e6:.1f}"]) + " |")
    return "\n".join(lines)


def chosen_gaps(rows: list[dict], workers: int) -> str:
    """The ledger's level against each strongest level, and the run's stage times, per row."""
    head = [
        "model.onnx",
        "amount",
        label(chosen(workers)),
        "vs gzip -9",
        "vs zstd -19",
        "export s",
        "report s",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        n = r["results"][chosen(workers)]["bytes"]
        gaps = [f"{n / best - 1:+.2%}" if (best := strongest(r, k)) else "" for k in ("gzip", "zstd")]
        cells = [r["model"], f"{r['amount']}", f"{n / r['size']:.4f}", *gaps]
        cells += [f"{r['stages']['export']:.2f}", f"{r['stages']['report']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="skip gzip -9 and zstd -19 (slow)")
    ap.add_argument("--models", nargs="*", default=list(MODELS), help="model specs (factories)")
    ap.add_argument("--reps", type=int, default=3, help="timing repetitions of the fast levels (median)")
    ap.add_argument("--no-write", action="store_true", help="do not update SIZE.md")
    args = ap.parse_args()
    workers = cpus.usable()
    with tempfile.TemporaryDirectory(prefix="bench_compressors_") as tmp:
        rows = [
            measure(m, a, Path(tmp), args.quick, args.reps, workers) for m in args.models for a in AMOUNTS
        ]
    sections = [
        f"### {r['model']} at {r['amount']} (model.onnx {r['size'] / 1e6:.1f} MB)\n\n{table(r)}" for r in rows
    ]
    text = "\n\n".join(sections)
    print(text)
    print(chosen_gaps(rows, workers))
    if not args.no_write:
        write_section(report(rows, text, workers, args.reps), MARKERS)


def report(rows: list[dict], text: str, workers: int, reps: int) -> str:
    return f"""## General-purpose compressors of model.onnx (`benchmarks/bench_compressors.py`)

Each model pruned at each amount and exported by `secateurs` (model.onnx only, dynamo), then compressed
whole, streamed in 1 MiB chunks: gzip is zlib {zlib.ZLIB_RUNTIME_VERSION} in the gzip container with mtime 0
(`gzip.compress(data, level, mtime=0)`, byte for byte), zstd is libzstd {zstandard.ZSTD_VERSION} via
`zstandard` {zstandard.__version__}, single-threaded or multi-threaded (`-T{workers}`: {workers} workers,
the usable CPUs; the frame is the same for any worker count ≥ 1, a few hundred bytes off the
single-threaded one). Sizes are exact bytes / model.onnx; the gap is to the smallest result at the
strongest level (gzip -9, zstd -19). MB/s are of model.onnx bytes, median of {reps} runs (one at the
strongest levels); CPU MB/s counts every thread's CPU time. zstd -19 single-threaded runs only up to
{ST_STRONGEST_LIMIT >> 20} MiB. On {platform.machine()}, {os.cpu_count()} vCPUs shared with other jobs, Python
{platform.python_version()}: speeds vary by tens of percent between runs.

The size ledger of `secateurs run` reports zstd -{ledger.ZSTD_LEVEL} (multi-threaded, at most
{ledger.ZSTD_MAX_WORKERS} workers; the same frame as `{label(chosen(workers))}`). Against the strongest levels, with
that run's export and report stage times (model.onnx only, so the export stage is at its shortest):

{chosen_gaps(rows, workers)}

{text}
"""


if __name__ == "__main__":
    main()
