"""Tables and the README for bench_pipeline.py: numbers in, markdown out, no measuring here.

``results`` maps a variant name ("dynamo, onnx") to {"exporter", "formats", "floors",
"runs"}; each run holds "total", "stages" and "calls" (see call_timer). Each table
function returns (headers, rows) for ``secateurs.report.markdown.table``.
"""

from __future__ import annotations

import statistics

STAGE_ORDER = ["load", "prune", "export", "validate", "report", "outside stages"]
RATIO_GOAL = 1.5
PRUNE_GOAL = 5.0
ONNX_EXPORT = "torch.onnx.export (export_onnx)"


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
    headers = ["exporter, run formats", "run best", "run median", "floor best", "floor median"]
    headers += ["ratio best/best", f"goal ≤{RATIO_GOAL}×"]
    rows = []
    for name, r in results.items():
        run_t = [x["total"] for x in r["runs"]]
        floor_t = [x["total"] for x in r["floors"]]
        q = ratio(r)
        rows.append(
            [name, sec(best(run_t)), sec(median(run_t)), sec(best(floor_t)), sec(median(floor_t))]
            + [f"{q:.2f}×", "yes" if q <= RATIO_GOAL else "NO"]
        )
    return headers, rows


def floor_table(results: dict) -> tuple[list[str], list[list[str]]]:
    headers = ["exporter", "torch.onnx.export", "ORT session", "1 inference", "floor total"]
    rows, seen = [], set()
    for r in results.values():
        if r["exporter"] in seen:
            continue
        seen.add(r["exporter"])
        f = min(r["floors"], key=lambda x: x["total"])
        rows.append(
            [r["exporter"], sec(f["export"]), sec(f["session"]), sec(f["inference"]), sec(f["total"])]
        )
    return headers, rows


def _calls(run: dict, stage: str) -> dict[str, dict]:
    return {c["label"]: c for c in run["calls"] if c["stage"] == stage}


def stage_table(results: dict) -> tuple[list[str], list[list[str]]]:
    """Each variant's fastest run: stage totals, then the self time of each probed call in it."""
    names = list(results)
    picked = {n: fastest(results[n]["runs"]) for n in names}
    headers = ["stage / call (self s, ×calls)", *names]
    rows = []
    for stage in STAGE_ORDER:
        totals = {n: picked[n]["stages"].get(stage, 0.0) for n in names}
        rows.append([f"**{stage}**", *(f"**{sec(totals[n])}**" for n in names)])
        per = {n: _calls(picked[n], stage) for n in names}
        labels = list(dict.fromkeys(lb for n in names for lb in per[n]))
        for label in labels:
            cells = []
            for n in names:
                c = per[n].get(label)
                cells.append(
                    "" if c is None else sec(c["self"]) + (f" ×{c['calls']}" if c["calls"] > 1 else "")
                )
            rows.append([f"· {label}", *cells])
        rest = {n: totals[n] - sum(c["self"] for c in per[n].values()) for n in names}
        if any(abs(v) >= 0.0005 for v in rest.values()):
            rows.append(["· (not in a probed call)", *(sec(rest[n]) for n in names)])
    rows.append(["**total**", *(f"**{sec(picked[n]['total'])}**" for n in names)])
    return headers, rows


def prune_table(prune: dict) -> tuple[list[str], list[list[str]]]:
    q = speedup(prune)
    headers = ["pruner", "best s", "median s", "speed-up best/best", f"goal ≥{PRUNE_GOAL:g}×"]
    rows = [
        [
            "torch.nn.utils.prune l1_unstructured + remove",
            sec(best(prune["torch"])),
            sec(median(prune["torch"])),
        ]
        + ["1.0×", ""],
        ["secateurs prune_model (layer scope)", sec(best(prune["ours"])), sec(median(prune["ours"]))]
        + [f"{q:.1f}×", "yes" if q >= PRUNE_GOAL else "NO"],
    ]
    return headers, rows


def _mib(kib: int | None) -> str:
    return "—" if kib is None else f"{kib / 1024:,.0f} MiB"


def rss_table(children: list[dict], parent_kib: int) -> tuple[list[str], list[list[str]]]:
    headers = ["process", "peak RSS (own ru_maxrss)", "RUSAGE_CHILDREN after it", "wall s, cold process"]
    rows = [
        [f"{c['process']} alone", _mib(c["maxrss_kib"]), _mib(c["children_maxrss_kib"]), sec(c["wall_s"])]
        for c in children
    ]
    rows.append(["this benchmark process (everything, in one process)", _mib(parent_kib), "", ""])
    return headers, rows


def overhead_lines(results: dict) -> list[str]:
    """Per variant: time over the floor, and the largest self times besides the ONNX export."""
    lines = []
    for name, r in results.items():
        run, floor = fastest(r["runs"]), min(r["floors"], key=lambda x: x["total"])
        own: dict[str, float] = {}
        for c in run["calls"]:
            own[c["label"]] = own.get(c["label"], 0.0) + c["self"]
        export = own.pop(ONNX_EXPORT, 0.0)
        for stage, total in run["stages"].items():
            rest = total - sum(c["self"] for c in run["calls"] if c["stage"] == stage)
            if rest > 0.0005:
                own[f"{stage}: not in a probed call"] = rest
        top = sorted(own.items(), key=lambda kv: -kv[1])[:7]
        allowed = RATIO_GOAL * floor["total"] - export
        lines.append(
            f"- **{name}**: run {run['total']:.2f} s − floor {floor['total']:.2f} s ="
            f" {run['total'] - floor['total']:.2f} s over the floor. Its torch.onnx.export took"
            f" {export:.2f} s (the floor's {floor['export']:.2f} s), so {RATIO_GOAL}× leaves"
            f" {allowed:.2f} s for everything else, which took {run['total'] - export:.2f} s."
            " Largest other self times: " + ", ".join(f"{label} {t:.2f} s" for label, t in top) + "."
        )
    return lines


def render_readme(info: dict, meta: dict, results: dict, prune: dict, children: list) -> str:
    """benchmarks/README.md: one section per benchmark, regenerated by every `make bench`."""
    from secateurs.report.markdown import table

    def md(pair: tuple[list[str], list[list[str]]]) -> str:
        return table(*pair)

    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    reps = meta["reps"]
    q = speedup(prune)
    verdicts = "; ".join(
        f"{n}: {'yes' if ratio(r) <= RATIO_GOAL else '**no**'} ({ratio(r):.2f}×)" for n, r in results.items()
    )
    out = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`benchmarks/bench_pipeline.py`, about 4 minutes); every run"
        " overwrites this file. Raw numbers: `benchmarks/out/bench_pipeline.json`. Artifact"
        " sizes are measured separately (`make bench-size`, `benchmarks/SIZE.md`).",
        "",
        f"- Machine: {info['cores']} CPU cores ({info['cpu']}), torch using {info['torch_threads']}"
        f" threads, {info['platform']}. A shared VM: memory-heavy steps vary by tens of percent"
        " between repetitions, hence warm-ups and best-of.",
        f"- Versions: {versions}.",
        f"- Date: {meta['date']}; this benchmark took {meta['elapsed']:.0f} s, during which other"
        f" processes used {info['other_cpu_s']:.0f} CPU-seconds"
        + (
            " (the machine was otherwise idle)."
            if info["other_cpu_s"] <= 0.05 * meta["elapsed"]
            else " — **other work competed for the CPUs: these timings are skewed; rerun when idle.**"
        ),
        f"- Model: `{meta['spec']}` (`benchmarks/resnet50.py`), a faithful ResNet-50 built without"
        f" torchvision: bottleneck blocks [3, 4, 6, 3], {meta['params']:,} parameters,"
        f" {meta['convs']} Conv2d, BatchNorm, 1000-class fc, seeded random init, input"
        f" 1×3×224×224. Pruning amount {meta['amount']:g}, layer scope.",
        "",
        "## 1. Whole `secateurs run` vs the export floor",
        "",
        "**Measured:** `execute(RunConfig(...), ['load', 'prune', 'export', 'validate'])`: every"
        " stage plus report, manifest and promotion, into a temp dir, with every artifact"
        " validated. Two run variants: `--formats onnx` (the artifact the floor writes) and the"
        f" RunConfig default formats ({', '.join(meta['default_formats'])}). The floor, which no"
        " run can beat: `torch.onnx.export` + onnxruntime `InferenceSession` + one inference,"
        " with the same exporter and export arguments as `secateurs.exporters.onnx_model_torch`"
        " (opset 18, dynamic batch, one file; dynamo traces at batch 2 with `optimize=True`).",
        "",
        f"**Method:** one process. Per exporter, one untimed warm-up of the floor and of each run"
        f" variant (the first dynamo export in a process pays a one-time cost), then {reps} rounds"
        " of floor + each run variant. Ratio = best run / best floor; medians shown too. Seconds.",
        "",
        md(ratio_table(results)),
        "",
        f"**Goal ≤{RATIO_GOAL}× met:** {verdicts}.",
        "",
        "The floor by part (its fastest repetition), seconds:",
        "",
        md(floor_table(results)),
        "",
        "Where each run's time goes (fastest run per variant). Bold rows are stage totals;"
        " the rows under them are *self* seconds of package calls made in that stage (time in"
        " the call minus time in other listed calls inside it, so they add up to the stage),"
        " taken by wrapping the functions (`benchmarks/call_timer.py`, no package edits)."
        " The report row covers `write_reports` (building and writing report.json/md), so it"
        " is a little more than `timings_s['report']`.",
        "",
        md(stage_table(results)),
        "",
        *overhead_lines(results),
        "",
    ]
    if meta.get("profiles"):
        out += [
            "cProfile text of one run per variant: " + ", ".join(f"`{p}`" for p in meta["profiles"].values())
        ]
        out.append("")
    out += [
        "## 2. Prune stage vs `torch.nn.utils.prune`",
        "",
        "**Measured:** `secateurs.model.prune.prune_model(model, amount, 'layer')` against"
        " `prune.l1_unstructured(m, 'weight', amount)` + `prune.remove(m, 'weight')` on every"
        f" Conv2d, each on a freshly built identical ResNet-50; one untimed warm-up each, then"
        f" best of {reps}. The per-layer zero counts are asserted equal (the script stops"
        " otherwise).",
        "",
        md(prune_table(prune)),
        "",
        f"{prune['layers']} Conv2d tensors, {prune['weights']:,} weights, {prune['zeros']:,} zeroed;"
        f" per-layer zero counts equal: yes; identical zero positions in {prune['same_mask_layers']}"
        f" of {prune['layers']} layers. Warm-up (first call in the process): ours"
        f" {prune['warmup']['ours']:.3f} s, torch {prune['warmup']['torch']:.3f} s."
        f" **Goal ≥{PRUNE_GOAL:g}× met:** {'yes' if q >= PRUNE_GOAL else '**no**'} ({q:.1f}×).",
        "",
        "## 3. Peak memory",
        "",
        "**Measured:** `resource.getrusage(...).ru_maxrss`, the peak resident set. Each row but"
        " the last ran alone in a fresh subprocess (so its wall time is cold: imports and the"
        " one-time dynamo cost included) and reports its own `RUSAGE_SELF`; the parent's"
        " `RUSAGE_CHILDREN` (the max over finished children) confirms it where that child raised"
        " the max. The last row is this whole benchmark process.",
        "",
        md(rss_table(children, meta["parent_kib"])),
        "",
    ]
    return "\n".join(out)
