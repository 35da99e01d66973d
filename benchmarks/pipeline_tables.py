"""Tables and the README for bench_pipeline.py: numbers in, markdown out, no measuring here.

``summarise`` turns one model's rounds (bench_pipeline.bench_model) into medians; the
renderers take those. Every figure is a median over the rounds, each row on its own, so
rows of a breakdown need not add up exactly to its median total.
"""

from __future__ import annotations

import statistics

from benchmarks import prune_vs_torch, time_breakdown
from benchmarks.time_breakdown import CLI_REST, STAGES, START

GOAL = 1.3  # issue 13: the whole run within 1.3x of doing it by hand
FLOOR_PARTS = ("build", "prune", "export", "session", "inference", "gzip")


def med(values) -> float:
    values = list(values)
    return statistics.median(values) if values else 0.0


def summarise(model: dict) -> dict:
    floors, runs = model["floors"], model["runs"]
    floor_s = med(f["wall_s"] for f in floors)
    run_s = med(r["wall_s"] for r in runs)
    parts = {p: med(f["parts"][p] for f in floors) for p in FLOOR_PARTS}
    parts[START] = med(f["wall_s"] - sum(v for k, v in f["parts"].items() if k != "imports") for f in floors)
    stages = {s: med(r["timings"].get(s, 0.0) for r in runs) for s in STAGES}
    stages[START] = med(r["wall_s"] - r["in_cli"] for r in runs)
    stages[CLI_REST] = med(r["in_cli"] - sum(r["timings"].values()) for r in runs)
    labels = {(c["stage"], c["label"]) for r in runs for c in r["calls"]}
    calls = {key: med(self_s(r, key) for r in runs) for key in labels}
    others = {s: v for s, v in stages.items() if s in STAGES and s != "export"}
    worst = max(others, key=others.get)
    return {
        "name": model["name"],
        "spec": model["spec"],
        "about": model["about"],
        "params": runs[0]["params"],
        "input_shape": runs[0]["input_shape"],
        "threads": runs[0]["threads"],
        "floor_threads": floors[0]["torch_threads"],
        "floor_s": floor_s,
        "run_s": run_s,
        "ratio": run_s / floor_s,
        "floor_rss": med(f["maxrss_kib"] for f in floors) * 1024,
        "run_rss": med(r["maxrss_kib"] for r in runs) * 1024,
        "floor_parts": parts,
        "run_peaks": peaks(runs, STAGES),
        "floor_peaks": peaks(floors, FLOOR_PARTS),
        "stages": stages,
        "calls": calls,
        "worst_stage": worst,
        "worst_vs_export": stages[worst] / stages["export"] if stages["export"] else float("inf"),
        "sizes": runs[0]["sizes"],
        "floor_sizes": floors[0]["sizes"],
    }


def peaks(rounds: list[dict], names) -> dict[str, float]:
    """Median peak RSS (bytes) reached by the end of each stage or part, where recorded."""
    found = {n: [r["peak_kib_after"][n] for r in rounds if n in r.get("peak_kib_after", {})] for n in names}
    return {n: med(v) * 1024 for n, v in found.items() if v}


def self_s(run: dict, key: tuple[str, str]) -> float:
    return sum(c["self"] for c in run["calls"] if (c["stage"], c["label"]) == key)


def gib(b: float) -> str:
    return f"{b / 1024**3:.2f} GiB"


def ratio_table(models: list[dict]) -> tuple[list[str], list[list[str]]]:
    headers = ["model", "params", "input", "floor s", "secateurs s", "ratio", f"≤{GOAL}×"]
    headers += [f"{s} %" for s in STAGES] + ["start/imports/exit %", "other %"]
    headers += ["peak RSS floor", "peak RSS secateurs", "RSS ratio"]
    rows = []
    for m in models:
        st = m["stages"]
        shares = [f"{100 * st[s] / m['run_s']:.0f}" for s in (*STAGES, START, CLI_REST)]
        rows.append(
            [
                m["name"],
                f"{m['params'] / 1e6:.1f}M",
                "×".join(map(str, m["input_shape"])),
                f"{m['floor_s']:.1f}",
                f"{m['run_s']:.1f}",
                f"{m['ratio']:.2f}×",
                "yes" if m["ratio"] <= GOAL else "**NO**",
                *shares,
                gib(m["floor_rss"]),
                gib(m["run_rss"]),
                f"{m['run_rss'] / m['floor_rss']:.2f}×",
            ]
        )
    return headers, rows


def stage_check_table(models: list[dict]) -> tuple[list[str], list[list[str]]]:
    headers = ["model", "export s", "largest other stage", "its s", "× export", "≤ 0.5×"]
    rows = [
        [
            m["name"],
            f"{m['stages']['export']:.2f}",
            m["worst_stage"],
            f"{m['stages'][m['worst_stage']]:.2f}",
            f"{m['worst_vs_export']:.2f}",
            "yes" if m["worst_vs_export"] <= 0.5 else "**NO**",
        ]
        for m in models
    ]
    return headers, rows


def floor_table(models: list[dict]) -> tuple[list[str], list[list[str]]]:
    headers = ["model", START, *FLOOR_PARTS, "total", "model.onnx", ".gz"]
    rows = [
        [
            m["name"],
            *(f"{m['floor_parts'][p]:.2f}" for p in (START, *FLOOR_PARTS)),
            f"{m['floor_s']:.2f}",
            f"{m['floor_sizes']['model.onnx'] / 1e6:.1f} MB",
            f"{m['floor_sizes']['model.onnx.gz'] / 1e6:.1f} MB",
        ]
        for m in models
    ]
    return headers, rows


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])


def where_time_goes(m: dict) -> str:
    table = markdown_table(["stage / call (self s)", "secateurs s", "floor s"], time_breakdown.rows(m))
    top = [f"{label} {s:+.2f} s" for label, s in time_breakdown.beyond_floor(m) if abs(s) >= 0.05][:8]
    over = m["run_s"] - m["floor_s"]
    text = f"{table}\n\nBeyond the floor ({over:+.1f} s), largest first: " + "; ".join(top) + "."
    if m["run_peaks"] and m["floor_peaks"]:
        run = ", ".join(f"{k} {gib(v)}" for k, v in m["run_peaks"].items())
        floor = ", ".join(f"{k} {gib(v)}" for k, v in m["floor_peaks"].items())
        text += f"\n\nPeak RSS reached by the end of each stage: {run}; the floor's, by part: {floor}."
    return text


def terminal(models: list[dict], prune: dict, info: dict, meta: dict) -> str:
    parts = [markdown_table(*ratio_table(models)), markdown_table(*stage_check_table(models))]
    parts.append(markdown_table(*floor_table(models)))
    for m in models:
        parts.append(f"{m['name']}: where the time goes\n{where_time_goes(m)}")
    parts.append(markdown_table(*prune_vs_torch.table(prune)))
    parts.append(
        f"benchmark wall time {meta['elapsed_s']:.0f} s; other processes used {info['other_cpu_s']:.0f} CPU-s"
    )
    return "\n\n".join(p.replace("**", "") for p in parts)


def render_readme(models: list[dict], prune: dict, info: dict, meta: dict) -> str:
    v = info["versions"]
    busy = info["other_cpu_s"]
    load = f"other processes used {busy:.0f} CPU-seconds meanwhile" + (
        " (the machine was busy: rerun on a quiet one before trusting the ratios)"
        if busy > 0.05 * meta["elapsed_s"] * info["cores"]
        else " (it was otherwise idle)"
    )
    thread_note = ", ".join(f"{m['name']} {m['threads']}" for m in models)
    out = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`benchmarks/bench_pipeline.py`); every run overwrites this file."
        " Raw numbers: `benchmarks/out/bench_pipeline.json`. Artifact sizes are measured separately"
        " (`make bench-size`, `benchmarks/SIZE.md`).",
        "",
        f"- Reproduce: `{meta['command']}` (one model: `.venv/bin/python benchmarks/bench_pipeline.py"
        " --models resnet18`; `--rounds N`).",
        f"- Machine: {info['cores']} CPU cores ({info['cpu']}), {info['memory_gib']:.0f} GiB memory,"
        f" {info['platform']}.",
        "- Versions: " + ", ".join(f"{k} {x}" for k, x in v.items()) + ".",
        f"- Threads: `secateurs run` used its `--threads` default, the usable CPUs ({thread_note});"
        f" the floor set none, so torch used its default ({models[0]['floor_threads'] if models else '?'})"
        " and onnxruntime its own (one per physical core).",
        f"- Date: {meta['date']}; the benchmark took {meta['elapsed_s']:.0f} s; {load}.",
        "",
        "## 1. Whole `secateurs run` vs doing it by hand",
        "",
        "**The floor** (`benchmarks/floor.py`, what a user does without secateurs): build the model;"
        f" `torch.nn.utils.prune.l1_unstructured` (amount {meta['amount']}) + `prune.remove` on every"
        " Conv2d; `torch.onnx.export` with the dynamo exporter into one file (`external_data=False`,"
        " opset 18, dynamic batch, as secateurs exports); one onnxruntime session and one inference,"
        " checked against PyTorch with `np.testing.assert_allclose`; gzip of model.onnx at level 6"
        " (the gzip CLI's default), streamed through Python's `gzip` module.",
        "",
        f"**The run:** `secateurs run MODEL --amount {meta['amount']}` with the default formats, every"
        " check passing, through `python -m benchmarks.timed_run` (secateurs' own command line, with"
        " named calls timed for section 3).",
        "",
        f"**Method:** per model, {meta['rounds']} rounds alternating floor and run, each a whole cold"
        " process (python start and imports included); wall time by the parent's clock; peak RSS is"
        " the process's `ru_maxrss` (`os.wait4`). Every figure is the median; ratio = median run /"
        " median floor. Stage shares are manifest.json's `run.timings_s` over the run's wall time;"
        f" *start/imports/exit* is the process outside secateurs' CLI call, *other* the CLI outside"
        " its stages (staging, manifest hashing, promotion, the terminal summary).",
        "",
        markdown_table(*ratio_table(models)),
        "",
        f"**Goal ≤{GOAL}×:** "
        + "; ".join(
            f"{m['name']} {'yes' if m['ratio'] <= GOAL else '**no**'} ({m['ratio']:.2f}×)" for m in models
        )
        + ".",
        "",
        "**No stage but export takes more than half the export's time:**",
        "",
        markdown_table(*stage_check_table(models)),
        "",
        "## 2. The floor by part",
        "",
        "Seconds, medians. *" + START + "* is the process's wall time outside the timed parts"
        " (interpreter start, `import torch, onnxruntime`, exit); *inference* includes PyTorch's"
        " forward for the comparison.",
        "",
        markdown_table(*floor_table(models)),
        "",
        "## 3. Where the run's time goes",
        "",
        "Per model: each stage (bold; manifest.json's timings) with the calls inside it (self"
        " seconds: a call's time minus that of timed calls within it; *(rest)* is the stage outside"
        " every timed call), beside what the floor spends on the same job. Each format's"
        " `export` and `checks` are timed separately, and each ONNX file's onnxruntime session +"
        " runs (4 inputs: 3 at the export shape, 1 at batch 3). *Beyond the floor* lists the run's"
        " extra seconds item by item (a stage minus the floor's part doing its job, other items"
        " whole, the floor's gzip negative), largest first. Then the peak RSS each process had"
        " reached by the end of each stage (its `ru_maxrss`, read as the stage returns): the stage"
        " that raises it most is the one holding the memory.",
    ]
    for m in models:
        out += ["", f"### {m['name']} (`{m['spec']}`)", "", f"{m['about']}; {m['params']:,} parameters.", ""]
        out.append(where_time_goes(m))
    out += [
        "",
        "## 4. Prune stage vs `torch.nn.utils.prune`",
        "",
        "`secateurs.model.prune.prune_model(model, amount, 'layer')` against"
        " `prune.l1_unstructured` + `prune.remove` on every Conv2d, each on a freshly built"
        f" identical ResNet-50 in one process; one untimed warm-up each, then {len(prune['ours'])}."
        " The per-layer zero counts are asserted equal (the script stops otherwise). The prune"
        " *stage* of a run also proves that the model's forward uses the pruned weights"
        " (`prove_weights_used`) and counts parameters: see section 3.",
        "",
        markdown_table(*prune_vs_torch.table(prune)),
        "",
        f"{prune['layers']} Conv2d tensors, {prune['weights']:,} weights, {prune['zeros']:,} zeroed;"
        f" identical zero positions in {prune['same_mask_layers']} of {prune['layers']} layers.",
        "",
    ]
    return "\n".join(out)
