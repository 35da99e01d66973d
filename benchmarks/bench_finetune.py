"""Recovery fine-tuning after --structure channels: accuracy (builtin:resnet on builtin:digits)
and mAP50 (builtin:detector on builtin:shapes) before and after --finetune, against the dense
model, and how long the fine-tuning takes.

Run as ``make bench-finetune`` (``.venv/bin/python benchmarks/bench_finetune.py``). Each case is
one ``secateurs run MODEL --structure channels --amount A --finetune E --eval DATA --formats onnx``
process; the numbers come from its report.json (``finetune.metric``: the pruned PyTorch model
before and after fine-tuning; ``evaluation``: model.onnx, which ships) and manifest.json (the
finetune stage's wall time). Writes benchmarks/FINETUNE.md (``--no-write``: print only).

Times are wall clock on whatever machine runs it; on a shared machine they are under load.
A script, not a test: it fails only when a command fails.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "FINETUNE.md"
BUDGET = 0.01  # the drop within which an amount counts as recovered (absolute, 1 point)
CASES = [  # (model, eval data, headline metric, amounts, epochs)
    ("builtin:resnet", "builtin:digits", "accuracy", (0.3, 0.5, 0.7), 3),
    ("builtin:detector", "builtin:shapes", "mAP50", (0.1, 0.2), 8),
]


def run(model: str, data: str, amount: float, epochs: int, out: Path, threads: int | None) -> dict:
    argv = [sys.executable, "-m", "secateurs.cli", "--no-config", "run", model, "--structure", "channels"]
    argv += ["--amount", str(amount), "--finetune", str(epochs), "--eval", data, "--formats", "onnx"]
    argv += ["--out", str(out), "-q"] + (["--threads", str(threads)] if threads else [])
    code = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL).returncode
    if code != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {code}")
    report = json.loads((out / "report.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())["run"]
    return {"report": report, "timings": manifest["timings_s"], "threads": manifest["threads"]}


def row(model: str, metric: str, amount: float, epochs: int, result: dict) -> dict:
    report = result["report"]
    ft = report["finetune"]
    onnx = report["evaluation"]["results"]["onnx"]
    if metric == "accuracy":
        dense, after_onnx = onnx["dense"]["accuracy"], onnx["pruned"]["accuracy"]
    else:
        dense, after_onnx = onnx["dense"]["mAP50"], onnx["pruned"]["mAP50"]
    ch = report["channels"]
    return {
        "model": model,
        "metric": metric,
        "amount": amount,
        "epochs": epochs,
        "samples": ft["samples"],
        "params": f"{ch['params_before']:,} -> {ch['params_after']:,}",
        "dense": dense,
        "before": ft["metric"]["before"],
        "after_torch": ft["metric"]["after"],
        "after_onnx": after_onnx,
        "drop": dense - after_onnx,
        "seconds": result["timings"]["finetune"],
        "threads": result["threads"],
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| model | amount | epochs x samples | parameters | dense | pruned, no fine-tuning | after (PyTorch) |"
        " after (model.onnx) | drop | within 1 point | fine-tuning time |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} ({r['metric']}) | {r['amount']} | {r['epochs']} x {r['samples']:,} | {r['params']} |"
            f" {100 * r['dense']:.2f}% | {100 * r['before']:.2f}% | {100 * r['after_torch']:.2f}% |"
            f" {100 * r['after_onnx']:.2f}% | {100 * r['drop']:.2f} pt | {'yes' if r['drop'] <= BUDGET else 'no'} |"
            f" {r['seconds']:.1f} s ({r['threads']} threads) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print the table, do not write FINETUNE.md")
    parser.add_argument("--threads", type=int, help="--threads for every run [default: secateurs' own]")
    parser.add_argument("--quick", action="store_true", help="only the first amount of each case")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model, data, metric, amounts, epochs in CASES:
            for amount in amounts[:1] if args.quick else amounts:
                out = Path(tmp) / f"{model.split(':')[1]}-{amount}"
                rows.append(
                    row(model, metric, amount, epochs, run(model, data, amount, epochs, out, args.threads))
                )
                print(table(rows[-1:]).splitlines()[-1], flush=True)
    best = {}
    for r in rows:
        if r["drop"] <= BUDGET and r["amount"] > best.get(r["model"], -1.0):
            best[r["model"]] = r["amount"]
    summary = [
        f"- {model}: largest amount measured within a 1-point drop after fine-tuning:"
        f" {best.get(model, 'none of those measured')}"
        for model, *_ in CASES
    ]
    text = "\n".join(
        [
            "# Recovery fine-tuning after channel pruning",
            "",
            f"Measured {date.today().isoformat()} by `make bench-finetune` (benchmarks/bench_finetune.py) on"
            f" {platform.machine()}, Python {platform.python_version()}, {sys.platform}. Each row is one"
            " `secateurs run MODEL --structure channels --amount A --finetune E --eval DATA --formats onnx`.",
            "Training data: the train splits (builtin:digits' 1,437 images; builtin:shapes: 1,000 freshly"
            " drawn train images per epoch); the metric is on the held-out split (360 digits, 500 shapes"
            ' images). "pruned, no fine-tuning" is the channel-pruned PyTorch model before training;'
            ' "drop" is dense minus model.onnx after fine-tuning.',
            "Times are the finetune stage's wall clock (training, plus scoring the held-out data before and"
            " after) on a shared machine, under load from other jobs:"
            " read them as an order of magnitude, not a benchmark of the hardware.",
            "",
            table(rows),
            "",
            *summary,
            "",
        ]
    )
    print(text)
    if not args.no_write:
        OUT.write_text(text)


if __name__ == "__main__":
    main()
