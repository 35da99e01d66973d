"""Speed and memory of `secateurs run` on ResNet-50, against the floors it cannot beat.

Run as ``make bench`` (``.venv/bin/python benchmarks/bench_pipeline.py``). One process
measures, side by side:
  1. the whole run (load, prune, export, validate, report, manifest) against the floor
     ``torch.onnx.export`` + onnxruntime session creation + one inference, with the same
     exporter and arguments, for ``dynamo`` and ``torchscript``;
  2. the prune stage against ``torch.nn.utils.prune.l1_unstructured`` + ``prune.remove``;
  3. peak RSS of this process and of one run (and one floor) alone, each in a subprocess.
Prints the tables and rewrites benchmarks/README.md; raw numbers go to benchmarks/out/.
This is a script, not a test: it measures and reports; it fails only if the two pruners
disagree on a per-layer zero count.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # so `benchmarks.resnet50:resnet50` and `secateurs` import

from secateurs.exporters.onnx_model_torch import quiet_exporters as quiet  # noqa: E402

SPEC = "benchmarks.resnet50:resnet50"
STAGES = ["load", "prune", "export", "validate"]
EXPORTERS = ("dynamo", "torchscript")
AMOUNT = 0.3
RATIO_GOAL = 1.5
MINIMAL = ("onnx",)  # the run that writes what the floor writes (plus its report)
OUT = ROOT / "benchmarks" / "out"
README = ROOT / "benchmarks" / "README.md"


# ---------------------------------------------------------------- measured units


def raw_export(model, path: Path, exporter: str) -> None:
    """torch.onnx.export with the arguments secateurs.exporters.onnx_model_torch.export_onnx passes."""
    import torch

    shape = model.input_shape
    names = {"input_names": ["input"], "output_names": ["output"], "opset_version": 18}
    if exporter == "dynamo":
        example = torch.zeros(2, *shape[1:])  # as the package: batch 2 keeps the batch dim symbolic
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=True,
            external_data=False,
            dynamic_shapes=({0: torch.export.Dim("batch", min=1)},),
            optimize=True,
            verbose=False,
            **names,
        )
    else:
        torch.onnx.export(
            model,
            (torch.zeros(*shape),),
            str(path),
            dynamo=False,
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            do_constant_folding=True,
            **names,
        )


def floor_once(model, exporter: str, tmp: Path) -> dict:
    """export + InferenceSession + one inference at the export shape; seconds for each part."""
    import numpy as np
    import onnxruntime as ort

    path = tmp / f"floor-{exporter}.onnx"
    x = np.random.default_rng(0).standard_normal(model.input_shape, dtype=np.float32)
    gc.collect()
    t0 = time.perf_counter()
    with quiet():
        raw_export(model, path, exporter)
    t1 = time.perf_counter()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    t2 = time.perf_counter()
    sess.run(None, {"input": x})
    t3 = time.perf_counter()
    del sess
    path.unlink()
    return {"export": t1 - t0, "session": t2 - t1, "inference": t3 - t2, "total": t3 - t0}


def run_once(exporter: str, formats: tuple[str, ...], tmp: Path, profiler=None) -> dict:
    """The whole `secateurs run` (all stages) into a fresh directory, with per-call times."""
    import shutil

    from benchmarks.call_timer import OUTSIDE, timed_calls
    from secateurs.config import RunConfig
    from secateurs.pipeline.runner import execute

    out = tmp / f"run-{exporter}"
    cfg = RunConfig(model=SPEC, out=out, amount=AMOUNT, exporter=exporter, formats=formats)
    gc.collect()
    with timed_calls(formats) as acc, quiet():
        if profiler is not None:
            profiler.enable()
        t0 = time.perf_counter()
        ctx, data = execute(cfg, STAGES)
        total = time.perf_counter() - t0
        if profiler is not None:
            profiler.disable()
    if data["status"] != "passed":
        raise SystemExit(f"run with {exporter} did not pass validation: {data['status']}")
    sizes = {p.name: p.stat().st_size for p in out.iterdir()}
    shutil.rmtree(out)
    stages = dict(acc["stages"])
    stages[OUTSIDE] = total - sum(stages.values())
    calls = [{"stage": st, "label": lb, **v} for (st, lb), v in acc["calls"].items()]
    return {
        "total": total,
        "stages": stages,
        "ctx_timings": dict(ctx.timings),
        "calls": calls,
        "sizes": sizes,
    }


def child(kind: str, exporter: str, formats: tuple[str, ...]) -> None:
    """One run or one floor in a fresh process; prints its wall time and its own peak RSS."""
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        if kind == "run":
            run_once(exporter, formats, Path(d))
        else:
            from benchmarks.resnet50 import resnet50

            floor_once(resnet50(), exporter, Path(d))
        wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"wall_s": wall, "maxrss_kib": rss}))


def in_subprocess(kind: str, exporter: str, formats: tuple[str, ...]) -> dict:
    """Run `child` in a fresh interpreter; its own peak RSS, cross-checked by RUSAGE_CHILDREN."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    cmd = [sys.executable, __file__, "--child", kind, exporter, "--formats", ",".join(formats)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"{kind} ({exporter}) subprocess failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # RUSAGE_CHILDREN is the max over all waited-for children: it names this child only
    # when this child raised the max. The child's own RUSAGE_SELF figure is always exact.
    result["children_maxrss_kib"] = after if after > before else None
    what = f"run, formats {','.join(formats)}" if kind == "run" else "floor"
    return {"process": f"{what} ({exporter})", **result}


# ---------------------------------------------------------------- benchmarks


def bench_prune(reps: int) -> dict:
    """Our prune stage vs torch's l1_unstructured + remove, on fresh identical models.

    One untimed warm-up of each (first large allocations in a process are slow here).
    """
    import torch
    from torch.nn.utils import prune as tprune

    from benchmarks.resnet50 import resnet50
    from secateurs.model.prune import prune_model

    ours, theirs = [], []
    for _ in range(reps + 1):
        model = resnet50()
        gc.collect()
        t0 = time.perf_counter()
        records, _ = prune_model(model, AMOUNT, "layer")
        ours.append(time.perf_counter() - t0)

        reference = resnet50()
        gc.collect()
        t0 = time.perf_counter()
        convs = [(n, m) for n, m in reference.named_modules() if isinstance(m, torch.nn.Conv2d)]
        for _, m in convs:
            tprune.l1_unstructured(m, "weight", amount=AMOUNT)
            tprune.remove(m, "weight")
        theirs.append(time.perf_counter() - t0)

        got = {r.name: r.zeros_after for r in records}
        want = {n: int((m.weight == 0).sum()) for n, m in convs}
        if got != want:
            bad = [n for n in want if got.get(n) != want[n]]
            raise SystemExit(f"per-layer zero counts differ from torch.nn.utils.prune on: {bad[:5]}")
        mods = dict(model.named_modules())
        same_mask = sum(torch.equal(mods[n].weight == 0, m.weight == 0) for n, m in convs)
    return {
        "ours": ours[1:],
        "torch": theirs[1:],
        "warmup": {"ours": ours[0], "torch": theirs[0]},
        "layers": len(records),
        "weights": sum(r.numel for r in records),
        "zeros": sum(r.zeros_after for r in records),
        "same_mask_layers": int(same_mask),
    }


def bench_exporter(exporter: str, variants: list[tuple[str, ...]], reps: int, tmp: Path) -> dict:
    """One untimed warm-up of each side, then `reps` rounds of floor + one run per variant."""
    from benchmarks.resnet50 import resnet50

    model = resnet50()
    floor_once(model, exporter, tmp)
    for formats in variants:
        run_once(exporter, formats, tmp)
    floors: list[dict] = []
    runs: dict[tuple[str, ...], list[dict]] = {f: [] for f in variants}
    for _ in range(reps):
        floors.append(floor_once(model, exporter, tmp))
        for formats in variants:
            runs[formats].append(run_once(exporter, formats, tmp))
    return {
        variant_name(exporter, f): {
            "exporter": exporter,
            "formats": list(f),
            "floors": floors,
            "runs": runs[f],
        }
        for f in variants
    }


def variant_name(exporter: str, formats: tuple[str, ...]) -> str:
    return f"{exporter}, {'+'.join(formats)}" if len(formats) <= 2 else f"{exporter}, {len(formats)} formats"


def profile_run(exporter: str, formats: tuple[str, ...], tmp: Path) -> Path:
    """cProfile of one warm run: secateurs' own calls by cumulative time, then all by own time."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    run_once(exporter, formats, tmp, profiler=prof)
    OUT.mkdir(parents=True, exist_ok=True)
    stem = OUT / f"profile-{exporter}-{len(formats)}formats"
    prof.dump_stats(str(stem.with_suffix(".prof")))
    text = io.StringIO()
    stats = pstats.Stats(prof, stream=text)
    stats.sort_stats("cumulative").print_stats("secateurs", 60)
    stats.sort_stats("tottime").print_stats(40)
    stem.with_suffix(".txt").write_text(text.getvalue())
    return stem.with_suffix(".txt")


# ---------------------------------------------------------------- main


def other_cpu_s() -> float:
    """CPU seconds every process used so far minus this one's and its children's (Linux)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return float("nan")
    busy = sum(int(v) for i, v in enumerate(fields[:8]) if i not in (3, 4)) / os.sysconf("SC_CLK_TCK")
    own = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        own += r.ru_utime + r.ru_stime
    return busy - own


def machine() -> dict:
    from secateurs import __version__
    from secateurs.report.data import versions

    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    found = versions()
    with contextlib.suppress(Exception):
        from importlib.metadata import version

        found["onnxscript"] = version("onnxscript")
    found["secateurs"] = __version__
    import torch

    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "versions": found,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3, help="timed repetitions per side, after 1 warm-up")
    ap.add_argument(
        "--formats",
        action="append",
        help="comma-separated formats for one run variant; repeatable"
        f" (default: {','.join(MINIMAL)} and RunConfig's default formats)",
    )
    ap.add_argument("--profile", action="store_true", help="also cProfile one run per variant")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "EXPORTER"), help=argparse.SUPPRESS)
    ap.add_argument("--no-readme", action="store_true", help="print only; leave benchmarks/README.md")
    args = ap.parse_args()
    from secateurs.config import DEFAULT_FORMATS

    variants = [tuple(f.split(",")) for f in args.formats] if args.formats else [MINIMAL, DEFAULT_FORMATS]
    variants = list(dict.fromkeys(tuple(v) for v in variants))
    if args.child:
        child(*args.child, variants[-1])
        return
    started = time.perf_counter()
    import torch

    from benchmarks import pipeline_tables as tables
    from benchmarks.resnet50 import resnet50
    from secateurs.report.terminal import table

    info = machine()
    others_before = other_cpu_s()
    model = resnet50()
    n_params = sum(p.numel() for p in model.parameters())
    n_convs = sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    del model
    print(f"ResNet-50 ({SPEC}): {n_params:,} parameters, {n_convs} Conv2d; {info['cores']} cores")
    print(f"{info['cpu']}; " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    print("run variants: " + "; ".join(",".join(v) for v in variants), flush=True)

    # Subprocesses first, so that each child's peak is measured before this process grows.
    print("peak RSS: the floor and the last run variant alone, in fresh subprocesses ...", flush=True)
    children = [in_subprocess(kind, exp, variants[-1]) for exp in EXPORTERS for kind in ("floor", "run")]
    print(f"prune stage vs torch.nn.utils.prune: 1 warm-up + {args.reps} each ...", flush=True)
    prune = bench_prune(args.reps)
    results, profiles = {}, {}
    with tempfile.TemporaryDirectory(prefix="secateurs-bench-") as d:
        for exp in EXPORTERS:
            print(f"run vs floor, {exp}: 1 warm-up + {args.reps} rounds ...", flush=True)
            results.update(bench_exporter(exp, variants, args.reps, Path(d)))
        missed = [r for r in results.values() if tables.ratio(r) > RATIO_GOAL]
        for r in results.values() if args.profile else []:
            print(f"cProfile of one run: {r['exporter']}, {','.join(r['formats'])} ...", flush=True)
            profiles[variant_name(r["exporter"], tuple(r["formats"]))] = profile_run(
                r["exporter"], tuple(r["formats"]), Path(d)
            )
    parent_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    info["other_cpu_s"] = other_cpu_s() - others_before
    elapsed = time.perf_counter() - started

    sections = {
        "whole run vs floor": tables.ratio_table(results),
        "floor by part": tables.floor_table(results),
        "run by stage and call (fastest run; self seconds)": tables.stage_table(results),
        "prune stage": tables.prune_table(prune),
        "peak RSS": tables.rss_table(children, parent_kib),
    }
    for name, (headers, rows) in sections.items():
        print(f"\n[{name}]\n" + table(headers, [[c.replace("**", "") for c in r] for r in rows]))
    print("\n" + "\n".join(line.replace("**", "") for line in tables.overhead_lines(results)))
    if missed:
        print(f"\n{len(missed)} variant(s) above {RATIO_GOAL}x; `--profile` adds a cProfile per variant")
    print(
        f"\nbenchmark wall time {elapsed:.0f} s; other processes used {info['other_cpu_s']:.0f} CPU-s meanwhile"
    )
    if info["other_cpu_s"] > 0.05 * elapsed:
        print("warning: other processes competed for the CPUs; these timings are skewed, rerun when idle")

    meta = {
        "reps": args.reps,
        "elapsed": elapsed,
        "params": n_params,
        "convs": n_convs,
        "default_formats": list(DEFAULT_FORMATS),
        "spec": SPEC,
        "amount": AMOUNT,
        "parent_kib": parent_kib,
        "date": date.today().isoformat(),
        "profiles": {k: str(v.relative_to(ROOT)) for k, v in profiles.items()},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    raw = {"machine": info, "meta": meta, "results": results, "prune": prune, "children": children}
    (OUT / "bench_pipeline.json").write_text(json.dumps(raw, indent=2) + "\n")
    if not args.no_readme:
        README.write_text(tables.render_readme(info, meta, results, prune, children))
        print(f"wrote {README.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
