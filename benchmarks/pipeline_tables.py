"""Tables and the README for bench_pipeline.py: numbers in, markdown out, no measuring here.

Each table function returns (headers, rows) for ``secateurs.pipeline.tables.table``;
``**bold**`` cells mark stage rows in markdown and are stripped for the terminal.
"""

from __future__ import annotations

import statistics

STAGES = ["load", "prune", "export", "validate", "report", "outside stages"]
RATIO_GOAL = 1.5
PRUNE_GOAL = 5.0
EXPORT_LABEL = "  export_onnx (torch.onnx.export)"


def best(xs: list[float]) -> float:
    return min(xs)


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def sec(x: float) -> str:
    return f"{x:.3f}"


def fastest(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["total"])


def ratio(result: dict) -> float:
    return best([r["total"] for r in result["runs"]]) / best([f["total"] for f in result["floors"]])


def speedup(prune: dict) -> float:
    return best(prune["torch"]) / best(prune["ours"])


def ratio_table(results: dict) -> tuple[list[str], list[list[str]]]:
    headers = ["exporter", "run best s", "run median s", "floor best s", "floor median s", "ratio (best/best)"]
    headers.append(f"goal ≤{RATIO_GOAL}×")
    rows = []
    for exp, r in results.items():
        run_t = [x["total"] for x in r["runs"]]
        floor_t = [x["total"] for x in r["floors"]]
        q = ratio(r)
        rows.append(
            [exp, sec(best(run_t)), sec(median(run_t)), sec(best(floor_t)), sec(median(floor_t)), f"{q:.2f}×"]
            + ["yes" if q <= RATIO_GOAL else "**NO**"]
        )
    return headers, rows


def floor_table(results: dict) -> tuple[list[str], list[list[str]]]:
    headers = ["exporter", "torch.onnx.export s", "ORT session s", "1 inference s", "floor total s"]
    rows = []
    for exp, r in results.items():
        f = fastest(r["floors"])
        rows.append([exp, sec(f["export"]), sec(f["session"]), sec(f["inference"]), sec(f["total"])])
    return headers, rows


def _pct(x: float, run: dict) -> str:
    return f"{100 * x / run['total']:.1f}%"


def _secs(run: dict, label: str) -> float:
    return run["calls"].get(label, {}).get("secs", 0.0)


def stage_table(results: dict) -> tuple[list[str], list[list[str]]]:
    """Per-stage seconds of each exporter's fastest run, the calls inside each stage, the remainder."""
    exps = list(results)
    headers = ["stage / call", *(f"{e} s" for e in exps), *(f"{e} % of run" for e in exps)]
    picked = {e: fastest(results[e]["runs"]) for e in exps}

    def row(name: str, values: dict) -> list[str]:
        return [name, *(sec(values[e]) for e in exps), *(_pct(values[e], picked[e]) for e in exps)]

    rows = []
    for stage in STAGES:
        if stage == "outside stages":
            totals = {e: picked[e]["total"] - sum(picked[e]["timings"].values()) for e in exps}
        else:
            totals = {e: picked[e]["timings"].get(stage, 0.0) for e in exps}
        rows.append(row(f"**{stage}**", totals))
        labels = [lb for lb, c in picked[exps[0]]["calls"].items() if c["stage"] == stage]
        for label in labels:
            n = picked[exps[0]]["calls"][label]["calls"]
            name = "· " * ((len(label) - len(label.lstrip())) // 2 + 1) + label.strip()
            rows.append(row(name + (f" ×{n}" if n > 1 else ""), {e: _secs(picked[e], label) for e in exps}))
        top = [lb for lb in labels if not lb.startswith(" ")]
        rest = {e: totals[e] - sum(_secs(picked[e], lb) for lb in top) for e in exps}
        rows.append(row("· (rest of stage, untimed)", rest))
    rows.append(row("**total (execute)**", {e: picked[e]["total"] for e in exps}))
    return headers, rows


def prune_table(prune: dict) -> tuple[list[str], list[list[str]]]:
    q = speedup(prune)
    headers = ["pruner", "best s", "median s", "speed-up (best/best)", f"goal ≥{PRUNE_GOAL:g}×"]
    rows = [
        ["torch.nn.utils.prune l1_unstructured + remove", sec(best(prune["torch"])), sec(median(prune["torch"]))]
        + ["1.0×", ""],
        ["secateurs prune_model (layer scope)", sec(best(prune["ours"])), sec(median(prune["ours"]))]
        + [f"{q:.1f}×", "yes" if q >= PRUNE_GOAL else "**NO**"],
    ]
    return headers, rows


def _mib(kib: int | None) -> str:
    return "—" if kib is None else f"{kib / 1024:,.0f} MiB"


def rss_table(children: list[dict], parent_kib: int) -> tuple[list[str], list[list[str]]]:
    headers = ["process", "peak RSS (its own ru_maxrss)", "parent's RUSAGE_CHILDREN after it", "wall s (cold)"]
    rows = [
        [f"{c['kind']} ({c['exporter']}) alone, subprocess", _mib(c["maxrss_kib"])]
        + [_mib(c["children_maxrss_kib"]), sec(c["wall_s"])]
        for c in children
    ]
    rows.append(["this benchmark process (all of the above in one process)", _mib(parent_kib), "", ""])
    return headers, rows


def overhead_lines(results: dict) -> list[str]:
    """Where the run spends time the floor does not: the biggest calls besides the ONNX export."""
    lines = []
    for exp, r in results.items():
        run = fastest(r["runs"])
        floor = fastest(r["floors"])
        calls = {lb: c["secs"] for lb, c in run["calls"].items() if not lb.startswith(" ")}
        if "onnx exporter" in calls:
            calls["onnx exporter besides torch.onnx.export"] = calls.pop("onnx exporter") - _secs(
                run, EXPORT_LABEL
            )
        calls["outside stages (staging, manifest, promote)"] = run["total"] - sum(run["timings"].values())
        top = sorted(calls.items(), key=lambda kv: -kv[1])[:6]
        parts = ", ".join(f"{name} {t:.2f} s" for name, t in top)
        lines.append(
            f"- **{exp}**: run {run['total']:.2f} s − floor {floor['total']:.2f} s ="
            f" {run['total'] - floor['total']:.2f} s over the floor"
            f" (the run's own export_onnx took"
            f" {_secs(run, EXPORT_LABEL):.2f} s vs the floor's"
            f" {floor['export']:.2f} s). Largest other calls: {parts}."
        )
    return lines


def render_readme(info: dict, meta: dict, results: dict, prune: dict, children: list, profiles: dict) -> str:
    """benchmarks/README.md: one section per benchmark, regenerated by every `make bench`."""
    from secateurs.pipeline.tables import table

    def md(pair: tuple[list[str], list[list[str]]]) -> str:
        return table(*pair, style="md")

    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    reps = meta["reps"]
    ratios = {e: ratio(r) for e, r in results.items()}
    q = speedup(prune)
    out = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`benchmarks/bench_pipeline.py`); the numbers below are"
        " overwritten by each run. Raw numbers: `benchmarks/out/bench_pipeline.json`."
        " Artifact sizes are measured separately (`make bench-size`, `benchmarks/SIZE.md`).",
        "",
        f"- Machine: {info['cores']} CPU cores ({info['cpu']}), torch using {info['torch_threads']}"
        f" threads, {info['platform']}.",
        f"- Versions: {versions}.",
        f"- Date: {meta['date']}; whole benchmark took {meta['elapsed']:.0f} s.",
        f"- Model: `{meta['spec']}` (`benchmarks/resnet50.py`), a faithful ResNet-50 built without"
        f" torchvision: bottleneck blocks [3, 4, 6, 3], {meta['params']:,} parameters, {meta['convs']} Conv2d,"
        " BatchNorm, 1000-class fc, seeded random init, input 1×3×224×224. Pruning amount"
        f" {meta['amount']:g}, layer scope.",
        "",
        "## 1. Whole `secateurs run` vs the export floor",
        "",
        "**Measured:** `execute(RunConfig(...), ['load', 'prune', 'export', 'validate'])` (all"
        " stages plus report, manifest and promotion, into a temp dir; formats"
        f" {', '.join(meta['formats'])}{' (the RunConfig default)' if meta['default_formats'] else ''},"
        " each validated) against the floor nobody can beat:"
        " `torch.onnx.export` + onnxruntime `InferenceSession` + one inference, with the same"
        " exporter and the same export arguments as `secateurs.exporters.onnx_model` (opset 18,"
        " dynamic batch, one file; dynamo traces at batch 2 with `optimize=True`).",
        f"**Method:** one process; per exporter one untimed warm-up of each side (the first dynamo"
        f" export in a process pays a one-time cost), then {reps} interleaved floor/run pairs."
        " The ratio is best run / best floor; medians are shown too.",
        "",
        md(ratio_table(results)),
        "",
        f"**Goal ≤{RATIO_GOAL}× met:** "
        + "; ".join(f"{e} {'yes' if v <= RATIO_GOAL else '**no**'} ({v:.2f}×)" for e, v in ratios.items()),
        "",
        "Floor, by part (fastest floor):",
        "",
        md(floor_table(results)),
        "",
        "Where the run's time goes (fastest run per exporter; `ctx.timings` per stage, and wall"
        " time of the package calls inside each stage, taken by wrapping them in"
        " `benchmarks/call_timer.py`; indented rows are inside the row above them):",
        "",
        md(stage_table(results)),
        "",
        *overhead_lines(results),
        "",
    ]
    for exp, text in profiles.items():
        out += [
            f"cProfile of one warm {exp} run (ratio above goal), top entries; full text in"
            f" `benchmarks/out/profile-{exp}.txt`:",
            "",
            "```",
            "\n".join(text.splitlines()[:60]),
            "```",
            "",
        ]
    out += [
        "## 2. Prune stage vs `torch.nn.utils.prune`",
        "",
        "**Measured:** `secateurs.pipeline.prune.prune_model(model, amount, 'layer')` against"
        " `prune.l1_unstructured(m, 'weight', amount)` + `prune.remove(m, 'weight')` on every"
        f" Conv2d, each on a freshly built identical ResNet-50; best of {reps}. The per-layer"
        " zero counts are asserted equal (the script stops otherwise).",
        "",
        md(prune_table(prune)),
        "",
        f"{prune['layers']} Conv2d tensors, {prune['weights']:,} weights, {prune['zeros']:,} zeroed;"
        f" per-layer zero counts equal: yes; identical zero positions in {prune['same_mask_layers']}"
        f" of {prune['layers']} layers. **Goal ≥{PRUNE_GOAL:g}× met:** {'yes' if q >= PRUNE_GOAL else '**no**'}"
        f" ({q:.1f}×).",
        "",
        "## 3. Peak memory",
        "",
        "**Measured:** `resource.getrusage(...).ru_maxrss` (peak resident set). Each run and floor"
        " below ran alone in a fresh subprocess (cold: imports and the one-time dynamo cost"
        " included in its wall time), which reports its own `RUSAGE_SELF`; the parent's"
        " `RUSAGE_CHILDREN` (max over finished children) confirms it where that child raised the"
        " max. The last row is this whole benchmark process.",
        "",
        md(rss_table(children, meta["parent_kib"])),
        "",
    ]
    return "\n".join(out)
