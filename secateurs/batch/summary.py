"""The end of a batch: one table row per job, batch.json, and the batch's exit code.

batch.json (schema ``secateurs.batch/1``) is written beside JOBS.toml unless --summary
names another file; it is also the resume record the next batch reads (``job.unchanged``).
The batch exits with the highest exit code of its jobs: 0 only when every job passed or was
skipped (README "Exit codes").
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from secateurs import files
from secateurs.settings_file import shown

SCHEMA = "secateurs.batch/1"


def exit_code(records: list[dict]) -> int:
    """The worst job's code: the highest (0 when every job passed or was skipped)."""
    return max((r["exit_code"] for r in records), default=0)


def earlier_records(path: Path) -> dict[str, dict]:
    """The last batch's records by absolute output path; none when batch.json is absent or unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        return {}
    return {r["out_path"]: r for r in data.get("jobs", []) if isinstance(r, dict) and "out_path" in r}


def write(path: Path, jobs_file: Path, executor: str, records: list[dict], seconds: float) -> dict:
    data = {
        "schema": SCHEMA,
        "jobs_file": os.path.abspath(jobs_file),
        "executor": executor,
        "exit_code": exit_code(records),
        "seconds": round(seconds, 2),
        "jobs": records,
    }
    files.write_json(path, data)
    return data


def table(records: list[dict]) -> str:
    """Jobs x (status, exit code, what was pruned, recommended artifact, key metric, seconds):
    sparsity for unstructured jobs, the parameters left for channel jobs."""
    head = ("job", "out", "status", "exit", "pruned", "recommended", "metric", "seconds")
    rows = [head] + [_row(r) for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths)] + lines[1:])


def _row(r: dict) -> tuple[str, ...]:
    from secateurs.report.formats import fmt_bytes

    best = r.get("recommended")
    metric = r.get("metric")
    return (
        f"#{r['job']}",
        shown(Path(r["out"]), Path.cwd()),
        r["status"],
        str(r["exit_code"]),
        _pruned(r),
        "-" if not best else f"{best['file']} ({fmt_bytes(best['size'])})",
        "-" if not metric else f"{metric['name']} {metric['value']:.4f}",
        f"{r['seconds']:.1f}",
    )


def _pruned(r: dict) -> str:
    if r.get("params"):
        before, after = r["params"]
        return f"{before / after:.2f}x fewer params" if after else "-"
    return "-" if r.get("sparsity") is None else f"{r['sparsity']:.1%} zeros"


def failure_lines(records: list[dict]) -> list[str]:
    """One stderr line per job that did not pass, with its own error line."""
    return [
        f"secateurs: job #{r['job']} ({shown(Path(r['out']), Path.cwd())}) exit {r['exit_code']}: {r['message']}"
        for r in records
        if r["exit_code"] != 0
    ]
