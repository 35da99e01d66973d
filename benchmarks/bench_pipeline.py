"""Speed and memory of `secateurs run` against doing it by hand (issue 13), at every model size.

Run as ``make bench`` (``.venv/bin/python benchmarks/bench_pipeline.py``). For each model,
3 alternating rounds of two whole processes, cold (python start and imports included):
  - the floor, ``python -m benchmarks.floor``: build, torch.nn.utils.prune, torch.onnx.export
    (dynamo), one onnxruntime session + inference checked against PyTorch, gzip -6;
  - ``secateurs run MODEL`` with the default formats, through ``python -m benchmarks.timed_run``
    (secateurs' own command line, with its calls timed).
Wall time is the parent's clock around each process; peak RSS is that process's
``ru_maxrss`` from ``os.wait4``. Ratio = median run / median floor. Stage times are
manifest.json's ``run.timings_s``. Then, in this process, the prune stage against
torch.nn.utils.prune on ResNet-50 (per-layer zero counts asserted equal).
Prints the tables and rewrites benchmarks/README.md; raw numbers go to benchmarks/out/.
A script, not a test: a goal missed is reported, not raised.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # so `benchmarks.*` and the worktree's `secateurs` import

from benchmarks import pipeline_tables as tables  # noqa: E402
from benchmarks import prune_vs_torch  # noqa: E402

AMOUNT = "0.3"  # benchmarks/floor.py's AMOUNT, and secateurs' default
OUT = ROOT / "benchmarks" / "out"
README = ROOT / "benchmarks" / "README.md"


@dataclass(frozen=True)
class Model:
    key: str
    name: str
    spec: str  # what `secateurs run` gets
    floor: tuple[str, ...]  # what benchmarks/floor.py gets
    about: str


def builtin_floor(name: str) -> tuple[str, ...]:
    """A builtin by hand: its model class, its shipped weights and its input shape."""
    from secateurs.models import BUILTINS

    b = BUILTINS[name]
    spec = f"{b.factory.__module__}:{b.factory.__qualname__}"
    return (spec, "--weights", str(b.weights), "--input-shape", ",".join(map(str, b.input_shape)))


MODELS = [
    Model(
        "resnet",
        "builtin ResNet",
        "builtin:resnet",
        builtin_floor("resnet"),
        "the demo model, shipped weights",
    ),
    Model(
        "resnet18",
        "ResNet-18",
        "benchmarks.resnet:resnet18",
        ("benchmarks.resnet:resnet18",),
        "`benchmarks/resnet.py`, torchvision's layout, seeded random weights",
    ),
    Model(
        "resnet50",
        "ResNet-50",
        "benchmarks.resnet:resnet50",
        ("benchmarks.resnet:resnet50",),
        "`benchmarks/resnet.py`, torchvision's layout, seeded random weights",
    ),
    Model(
        "yolov5s",
        "YOLOv5s-like",
        "benchmarks.yolo_like:yolov5s",
        ("benchmarks.yolo_like:yolov5s",),
        "`benchmarks/yolo_like.py`: yolov5s.yaml's layers, output `(tensor[B, 25200, 85], [p3, p4, p5])`",
    ),
]


def measure(cmd: list[str], log: Path) -> dict:
    """Run ``cmd`` from the repo root; its wall seconds (this clock) and its own peak RSS."""
    with log.open("w") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait
    if proc.returncode:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{tail}")
    return {"wall_s": wall, "maxrss_kib": usage.ru_maxrss}


def floor_round(model: Model, tmp: Path) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.floor", *model.floor, "--out", str(tmp)]
    result = measure(cmd, tmp.parent / f"{tmp.name}.log")
    return {**result, **json.loads((tmp / "floor.json").read_text())}


def run_round(model: Model, tmp: Path) -> dict:
    out = tmp / "out"
    times = tmp / "times.json"
    # --latency-runs 0: the floor times no latency, so neither does the run it is compared with
    # (the cost stage still counts parameters and MACs); latency is benchmarked in bench_channels.py
    argv = ["--no-config", "run", model.spec, "--amount", AMOUNT, "--latency-runs", "0", "--out", str(out)]
    result = measure(
        [sys.executable, "-m", "benchmarks.timed_run", str(times), *argv], tmp.parent / f"{tmp.name}.log"
    )
    report = json.loads((out / "report.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    if report["status"] != "passed":
        raise SystemExit(f"secateurs run {model.spec}: status {report['status']}")
    return {
        **result,
        **json.loads(times.read_text()),
        "timings": manifest["run"]["timings_s"],
        "threads": manifest["run"]["threads"],
        "params": report["sparsity"]["all_parameters"]["numel"],
        "input_shape": report["model"]["input_shape"],
        "sizes": {a["file"]: a["size"] for a in report["artifacts"]},
    }


def bench_model(model: Model, rounds: int, scratch: Path) -> dict:
    floors, runs = [], []
    for i in range(rounds):
        for kind, fn, into in (("floor", floor_round, floors), ("run", run_round, runs)):
            print(f"  {model.name}: round {i + 1}/{rounds}, {kind} ...", end=" ", flush=True)
            tmp = Path(tempfile.mkdtemp(prefix=f"{model.key}-{kind}-", dir=scratch))
            try:
                into.append(fn(model, tmp))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            print(f"{into[-1]['wall_s']:.1f} s, {into[-1]['maxrss_kib'] / 1024**2:.2f} GiB", flush=True)
    return {
        "key": model.key,
        "name": model.name,
        "spec": model.spec,
        "about": model.about,
        "floors": floors,
        "runs": runs,
    }


def other_cpu_s() -> float:
    """CPU seconds every process used so far minus this one's and its children's (Linux)."""
    import resource

    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return float("nan")
    busy = sum(int(v) for i, v in enumerate(fields[:8]) if i not in (3, 4)) / os.sysconf("SC_CLK_TCK")
    own = sum(
        r.ru_utime + r.ru_stime
        for r in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )
    return busy - own


def machine() -> dict:
    import platform
    from importlib.metadata import version

    from secateurs import __version__, cpus

    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        "unknown",
    )
    found = {"python": platform.python_version()}
    for pkg in ("torch", "onnx", "onnxruntime", "onnxscript", "numpy", "zstandard"):
        found[pkg] = version(pkg)
    found["secateurs"] = __version__
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cpus": cpus.usable(),
        "platform": platform.platform(),
        "memory_gib": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3,
        "versions": found,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    keys = [m.key for m in MODELS]
    ap.add_argument(
        "--models", default=",".join(keys), help=f"comma-separated, from {','.join(keys)} (default: all)"
    )
    ap.add_argument(
        "--rounds", type=int, default=3, help="alternating floor/run rounds per model (default 3)"
    )
    ap.add_argument("--prune-reps", type=int, default=3, help="timed repetitions of the prune comparison")
    ap.add_argument("--no-readme", action="store_true", help="print only; leave benchmarks/README.md")
    args = ap.parse_args()
    chosen = args.models.split(",")
    unknown = sorted(set(chosen) - set(keys))
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(keys)}")

    started = time.perf_counter()
    others_before = other_cpu_s()
    info = machine()
    print(
        f"{info['cpu']}, {info['cores']} cores; " + ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    )
    # One untimed cold start, so the first timed process does not pay for reading the
    # libraries from disk into the page cache.
    subprocess.run(
        [sys.executable, "-c", "import torch, onnx, onnxruntime, onnxscript"], cwd=ROOT, check=True
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="secateurs-bench-") as scratch:
        for model in [m for m in MODELS if m.key in chosen]:
            print(f"{model.name} ({model.spec}): {args.rounds} rounds of floor, run", flush=True)
            results.append(bench_model(model, args.rounds, Path(scratch)))
    print(f"prune stage vs torch.nn.utils.prune, ResNet-50: 1 warm-up + {args.prune_reps} ...", flush=True)
    prune = prune_vs_torch.measure(args.prune_reps, float(AMOUNT))
    info["other_cpu_s"] = other_cpu_s() - others_before
    meta = {
        "rounds": args.rounds,
        "amount": float(AMOUNT),
        "elapsed_s": time.perf_counter() - started,
        "date": date.today().isoformat(),
        "command": "make bench"
        if chosen == keys and args.rounds == 3
        else f".venv/bin/python benchmarks/bench_pipeline.py --models {args.models} --rounds {args.rounds}",
    }
    OUT.mkdir(parents=True, exist_ok=True)
    raw = {"machine": info, "meta": meta, "models": results, "prune": prune}
    (OUT / "bench_pipeline.json").write_text(json.dumps(raw, indent=2) + "\n")
    summary = [tables.summarise(r) for r in results]
    print("\n" + tables.terminal(summary, prune, info, meta))
    if not args.no_readme:
        README.write_text(tables.render_readme(summary, prune, info, meta))
        print(f"wrote {README.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
