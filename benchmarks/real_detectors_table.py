"""Markdown rows for benchmarks/REAL_DETECTORS.md from `secateurs run` output directories.

    python benchmarks/real_detectors_table.py TAG=OUT_DIR[:TIME_V_LOG] ...

Reads report.json and manifest.json (OUT_DIR, else OUT_DIR.failed); with a ``/usr/bin/time -v``
log, adds wall time, peak RSS and exit status. Prints one row per run for the run table and one
per run for the metrics table.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

METRICS = ("precision", "recall", "mAP50", "mAP50-95")


def time_v(log: Path) -> dict:
    text = log.read_text(errors="replace") if log.is_file() else ""
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    rc = re.search(r"Exit status: (\d+)", text)
    seconds = None
    if wall:
        parts = [float(p) for p in wall.group(1).split(":")]
        seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    return {
        "wall": f"{seconds:.1f} s" if seconds is not None else "?",
        "rss": f"{int(rss.group(1)) / 1048576:.2f} GiB" if rss else "?",
        "rc": rc.group(1) if rc else ("0" if text else "?"),
    }


def max_abs(report: dict) -> str:
    values = [
        o["max_abs"]
        for c in report["validation"]["checks"]
        if c["artifact"] == "model.onnx" and c["name"].startswith("onnxruntime vs torch")
        for o in c["outputs"]
    ]
    return f"{max(values):.2e}" if values else "-"


def fmt(d: dict) -> str:
    return " / ".join(f"{d[m]:.4f}" for m in METRICS)


def rows(tag: str, out: Path, log: Path | None) -> tuple[str, list[str]]:
    where = out if (out / "report.json").is_file() else Path(f"{out}.failed")
    t = time_v(log) if log else {"wall": "?", "rss": "?", "rc": "?"}
    if not (where / "report.json").is_file():
        return f"| {tag} | - | - | {t['wall']} | {t['rss']} | {t['rc']} | - | no report |", []
    r = json.loads((where / "report.json").read_text())
    timings = json.loads((where / "manifest.json").read_text())["run"]["timings_s"]
    params = f"{r['sparsity']['all_parameters']['numel'] / 1e6:.2f}M"
    stages = ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
    shape = "x".join(map(str, r["model"]["input_shape"]))
    run = f"| {tag} | {params} | {shape} | {t['wall']} | {t['rss']} | {t['rc']} | {max_abs(r)} | {stages} |"
    ev, metrics = r.get("evaluation"), []
    if ev:
        res = ev["results"]
        if ev["labels"]:
            dense = fmt(res["pytorch"]["dense"])
            pt, ox = fmt(res["pytorch"]["pruned"]), fmt(res["onnx"]["pruned"]) if "onnx" in res else "-"
        else:
            dense = "(reference)"
            pt = fmt(res["pytorch"]["agreement"])
            ox = fmt(res["onnx"]["agreement"]) if "onnx" in res else "-"
        same = "onnx" in res and all(
            abs(res["pytorch"]["drop"][m] - res["onnx"]["drop"][m]) <= 1e-6 for m in METRICS
        )
        gates = "; ".join(
            f"{g['judged']} {g['detail']} {'PASS' if g['passed'] else 'FAIL'}" for g in ev["gates"]
        )
        metrics.append(
            f"| {tag} | {ev['data']} ({ev['samples']}) | {dense} | {pt} | {ox} | {'yes' if same else 'no'} | {gates or '-'} |"
        )
    return run, metrics


def main() -> None:
    runs, metrics = [], []
    for arg in sys.argv[1:]:
        tag, _, rest = arg.partition("=")
        out, _, log = rest.partition(":")
        run, m = rows(tag, Path(out), Path(log) if log else None)
        runs.append(run)
        metrics += m
    print(
        "| run | params | input | wall | peak RSS | exit | max abs diff (model.onnx vs torch) | stages (s) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(runs))
    print()
    print(
        "| run | data (images) | dense P / R / mAP50 / mAP50-95 | pruned PyTorch | pruned ONNX | ORT == PyTorch | gates |"
    )
    print("|---|---|---|---|---|---|---|")
    print("\n".join(metrics))


if __name__ == "__main__":
    main()
