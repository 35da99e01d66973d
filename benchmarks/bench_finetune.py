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
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "FINETUNE.md"
BUDGET = 0.01  # the drop within which an amount counts as recovered (absolute, 1 point)
DETECTOR_RECIPE = "benchmarks/detector_channels_recipe.json"  # measured with --round-to 16 (its meta)


@dataclass(frozen=True)
class Case:
    """One `secateurs run MODEL --structure channels ... --finetune EPOCHS --eval DATA` row: a
    uniform ``amount`` (with the default --round-to 8), or ``recipe``."""

    model: str
    data: str
    metric: str  # the headline metric of the row
    epochs: int
    amount: float | None = None
    recipe: str | None = None
    options: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"recipe {Path(self.recipe).name}" if self.recipe else str(self.amount)


DETECT_FT = ("--finetune-lr", "0.003")  # 40 epochs x 1,000 images; 1e-3 recovered 0.3-1.7 points less
CASES = [
    Case("builtin:resnet", "builtin:digits", "accuracy", 10, amount=0.5),
    # multiples of 4: at 0.7 the default 8 keeps the 32x32 stages at 8 channels (1.95x at batch 32)
    Case("builtin:resnet", "builtin:digits", "accuracy", 10, amount=0.7, options=("--round-to", "4")),
    *(
        Case("builtin:detector", "builtin:shapes", "mAP50", 40, amount=a, options=DETECT_FT)
        for a in (0.2, 0.3)
    ),
    Case("builtin:detector", "builtin:shapes", "mAP50", 40, recipe=DETECTOR_RECIPE, options=DETECT_FT),
]


def run(case: Case, out: Path, threads: int | None) -> dict:
    argv = [
        sys.executable,
        "-m",
        "secateurs.cli",
        "--no-config",
        "run",
        case.model,
        "--structure",
        "channels",
    ]
    argv += ["--recipe", case.recipe] if case.recipe else ["--amount", str(case.amount)]
    argv += ["--finetune", str(case.epochs), *case.options, "--eval", case.data, "--formats", "onnx"]
    argv += ["--out", str(out), "-q"] + (["--threads", str(threads)] if threads else [])
    code = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL).returncode
    if code != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {code}")
    report = json.loads((out / "report.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())["run"]
    return {
        "report": report,
        "timings": manifest["timings_s"],
        "threads": manifest["threads"],
        "latency": manifest["latency"],
    }


def speedup(latency: dict, batch: int) -> str:
    """model.onnx's median speed-up over the dense original at ``batch`` (the run's cost stage)."""
    per = latency["artifacts"]
    return f"{per[latency['denominator']][str(batch)]['median_ms'] / per['model.onnx'][str(batch)]['median_ms']:.2f}x"


def row(case: Case, result: dict) -> dict:
    report = result["report"]
    ft = report["finetune"]
    onnx = report["evaluation"]["results"]["onnx"]
    key = "accuracy" if case.metric == "accuracy" else "mAP50"
    dense, after_onnx = onnx["dense"][key], onnx["pruned"][key]
    ch, cost = report["channels"], report["cost"]
    return {
        "model": case.model,
        "metric": case.metric,
        "label": case.label,
        "round_to": report["config"]["round_to"],
        "epochs": case.epochs,
        "samples": ft["samples"],
        "lr": ft["lr"],
        "params": f"{ch['params_before']:,} -> {ch['params_after']:,}",
        "macs": f"{cost['macs_ratio']:.2f}x",
        "dense": dense,
        "before": ft["metric"]["before"],
        "after_torch": ft["metric"]["after"],
        "after_onnx": after_onnx,
        "drop": dense - after_onnx,
        "batch1": speedup(result["latency"], 1),
        "batch32": speedup(result["latency"], max(result["latency"]["batches"])),
        "seconds": result["timings"]["finetune"],
        "threads": result["threads"],
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| model | amount | --round-to | epochs x samples, lr | parameters | MACs fewer | dense |"
        " pruned, no fine-tuning | after (PyTorch) | after (model.onnx) | drop | within 1 point |"
        " onnxruntime batch 1 | batch 32 | fine-tuning time |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} ({r['metric']}) | {r['label']} | {r['round_to']} | {r['epochs']} x {r['samples']:,},"
            f" {r['lr']:g} | {r['params']} | {r['macs']} | {100 * r['dense']:.2f}% | {100 * r['before']:.2f}% |"
            f" {100 * r['after_torch']:.2f}% | {100 * r['after_onnx']:.2f}% | {100 * r['drop']:.2f} pt |"
            f" {'yes' if r['drop'] <= BUDGET else 'no'} | {r['batch1']} faster | {r['batch32']} faster |"
            f" {r['seconds']:.1f} s ({r['threads']} threads) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print the table, do not write FINETUNE.md")
    parser.add_argument("--threads", type=int, help="--threads for every run [default: secateurs' own]")
    parser.add_argument("--quick", action="store_true", help="only the first case of each model")
    args = parser.parse_args()
    cases = [c for i, c in enumerate(CASES) if not args.quick or c.model not in {d.model for d in CASES[:i]}]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(cases):
            rows.append(row(case, run(case, Path(tmp) / f"{i}", args.threads)))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    text = "\n".join(
        [
            "# Recovery fine-tuning after channel pruning",
            "",
            f"Measured {date.today().isoformat()} by `make bench-finetune` (benchmarks/bench_finetune.py) on"
            f" {platform.machine()}, Python {platform.python_version()}, {sys.platform}. Each row is one"
            " `secateurs run MODEL --structure channels --amount A (or --recipe FILE) --finetune E"
            " [--finetune-lr LR] --eval DATA --formats onnx`.",
            "Training data: the train splits (builtin:digits' 1,437 images; builtin:shapes: 1,000 freshly"
            " drawn train images per epoch); the metric is on the held-out split (360 digits, 500 shapes"
            ' images). "pruned, no fine-tuning" is the channel-pruned PyTorch model before training;'
            ' "drop" is dense minus model.onnx after fine-tuning. The speed-ups are the run\'s own cost'
            " stage: model.onnx against the dense original in onnxruntime (CPU, the run's threads, 5"
            " warm-up then 30 interleaved runs, median). MACs per sample, counted on the ONNX graphs.",
            f"The recipe row is `{DETECTOR_RECIPE}` (widths chosen by measured latency; its meta says"
            " why), run with the --round-to 16 it records.",
            "Fine-tuning times are the finetune stage's wall clock (training, plus scoring the held-out"
            " data before and after); latency depends on the machine's load: run this on a quiet machine.",
            "",
            table(rows),
            "",
            *summary(rows),
            "",
        ]
    )
    print(text)
    if not args.no_write:
        OUT.write_text(text)


def summary(rows: list[dict]) -> list[str]:
    """Per model: the largest uniform amount within a 1-point drop after fine-tuning, and each
    row that is within it, with its batch-32 speed-up."""
    lines = []
    for model in dict.fromkeys(r["model"] for r in rows):
        within = [r for r in rows if r["model"] == model and r["drop"] <= BUDGET]
        amounts = [float(r["label"]) for r in within if not r["label"].startswith("recipe")]
        lines.append(
            f"- {model}: largest uniform amount within a 1-point drop after fine-tuning:"
            f" {max(amounts) if amounts else 'none of those measured'}; within it: "
            + (", ".join(f"{r['label']} ({r['batch32']} faster at batch 32)" for r in within) or "none")
        )
    return lines


if __name__ == "__main__":
    main()
