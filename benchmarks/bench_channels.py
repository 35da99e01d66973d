"""What each structure buys: parameters, MACs and onnxruntime latency, pruned against dense.

Run as ``make bench-channels`` (``.venv/bin/python benchmarks/bench_channels.py``). Each case
is one ``secateurs run`` (the pipeline in process, every check) and reads the cost stage's
results: report.json's ``cost`` block (parameters and MACs counted on the ONNX graphs, the dense
original exported the same way as the denominator) and manifest.json's ``run.latency``
(onnxruntime, 5 warm-ups, then 30 timed runs per artifact and batch, interleaved). Cases:
``benchmarks.resnet:resnet50`` (ResNet-50-shaped, seeded random weights) at ``--structure
channels --amount 0.5`` (targets: >= 3x fewer MACs and parameters, >= 2x faster at batch 32),
and builtin:resnet and builtin:detector at channels 0.5 and unstructured 0.5 (about 1.00x).
Writes benchmarks/CHANNELS.md (``--no-write``: print only). A script, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from secateurs.config import RunConfig  # noqa: E402
from secateurs.pipeline.runner import execute, run_stages  # noqa: E402

OUT = ROOT / "benchmarks" / "CHANNELS.md"
CASES = [
    ("benchmarks.resnet:resnet50", "channels", 0.5, ("onnx",)),
    ("builtin:resnet", "channels", 0.5, None),
    ("builtin:resnet", "unstructured", 0.5, None),
    ("builtin:detector", "channels", 0.5, None),
    ("builtin:detector", "unstructured", 0.5, None),
]


def measure(model: str, structure: str, amount: float, formats, tmp: Path) -> dict:
    out = tmp / f"{model.replace(':', '_')}-{structure}"
    extra = {"formats": formats} if formats else {}
    cfg = RunConfig(model=model, out=out, structure=structure, amount=amount, **extra)
    t0 = time.perf_counter()
    _, report = execute(cfg, run_stages(cfg))
    wall = time.perf_counter() - t0
    run = json.loads((out / "manifest.json").read_text())["run"]
    return {
        "model": model,
        "structure": structure,
        "amount": amount,
        "cost": report["cost"],
        "latency": run["latency"],
        "wall_s": wall,
        "cost_s": run["timings_s"]["cost"],
        "status": report["status"],
    }


def _latency_cells(lat: dict, batch: int) -> tuple[str, str]:
    arts = lat["artifacts"]
    dense, ours = arts["dense original"].get(str(batch)), arts["model.onnx"].get(str(batch))
    if not dense or not ours:
        return "", ""
    text = (
        f"{dense['median_ms']:.1f} ({dense['p10_ms']:.1f}-{dense['p90_ms']:.1f})"
        f" -> {ours['median_ms']:.1f} ({ours['p10_ms']:.1f}-{ours['p90_ms']:.1f})"
    )
    return text, f"{dense['median_ms'] / ours['median_ms']:.2f}x"


def table(rows: list[dict]) -> str:
    head = [
        "model",
        "structure 0.5",
        "params dense -> pruned",
        "x fewer",
        "MACs/sample dense -> pruned",
        "x fewer",
        "ms batch 1, median (p10-p90)",
        "x faster",
        "ms large batch, median (p10-p90)",
        "x faster",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        c, lat = r["cost"], r["latency"]
        d, p = c["dense_original"], c["pruned"]
        small, large = min(lat["batches"]), max(lat["batches"])
        b1, b1x = _latency_cells(lat, small)
        bl, blx = _latency_cells(lat, large)
        cells = [
            f"`{r['model']}`",
            r["structure"],
            f"{d['params']:,} -> {p['params']:,}",
            f"{c['params_ratio']:.2f}x",
            f"{d['macs'] / 1e6:,.1f}M -> {p['macs'] / 1e6:,.1f}M",
            f"{c['macs_ratio']:.2f}x",
            f"(b{small}) {b1}",
            b1x,
            f"(b{large}) {bl}",
            blx,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only; leave CHANNELS.md alone")
    args = parser.parse_args()
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model, structure, amount, formats in CASES:
            row = measure(model, structure, amount, formats, Path(tmp))
            print(f"{model} {structure} {amount}: {row['status']}, {row['wall_s']:.1f} s", flush=True)
            rows.append(row)
    load_after = os.getloadavg()
    threads = rows[0]["latency"]["threads"]
    body = "\n".join(
        [
            "# What each structure buys: parameters, MACs and onnxruntime latency",
            "",
            f"Measured {date.today().isoformat()} by `make bench-channels` (benchmarks/bench_channels.py) on"
            f" {platform.machine()}, Python {platform.python_version()}, onnxruntime CPU with {threads} threads.",
            f"The machine was shared with other jobs: load average {load_before[0]:.1f} at the start and"
            f" {load_after[0]:.1f} at the end (1-minute). Latency interleaves the dense original and each"
            " artifact run by run, so load hits both alike, but absolute milliseconds are inflated and"
            " noisy; read the ratios, and the p10-p90 spread beside each median.",
            "",
            "Every row is one `secateurs run MODEL --structure S --amount 0.5`. Parameters (elements of"
            " the floating-point initializers) and MACs (Conv, Gemm, MatMul multiply-accumulates per"
            " sample) are counted on the ONNX graphs: model.onnx against the dense original, the same"
            " model spec loaded again and exported the same way. Latency: 5 warm-up runs, then 30 timed"
            " runs per file and batch; the large batch is 32 unless 32 inputs would exceed 64 MiB"
            " (builtin:detector at 128x128: 32).",
            "",
            table(rows),
            "",
            "Targets for ResNet-50 at channels 0.5: >= 3x fewer MACs and parameters, >= 2x faster than"
            " dense at batch 32. Unstructured rows read about 1.00x: zeros save bytes on disk, not time"
            " (onnxruntime runs the zeros densely).",
            "",
            "Wall time per run (every stage; the cost stage re-exports the dense original and does the timing):",
            "",
            *[
                f"- `{r['model']}` {r['structure']}: {r['wall_s']:.0f} s, cost stage {r['cost_s']:.0f} s"
                for r in rows
            ],
            "",
        ]
    )
    print(body)
    if not args.no_write:
        OUT.write_text(body)


if __name__ == "__main__":
    main()
