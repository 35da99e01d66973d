"""What failed, said briefly: the failing checks and gates of report.json, with their numbers.

A check repeats per input and per artifact ("onnxruntime vs torch @ 1x1x32x32" runs three
inputs on each ONNX file), so the one-line error groups failures by check name: each
distinct failure once, the artifacts it hit and how many checks, then the worst max abs and
max rel error over every failing output. ``check_lines`` lists each failing check for
stdout. Torch-free: reads report.json's dicts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from secateurs.validators.results import check_failed

LOAD_ERROR = "onnxruntime cannot load"  # the root cause of every check after it on that file
MAX_LISTED = 4


@dataclass
class Distinct:
    """Failing checks that share a name: which artifacts, how many, and the detail of the
    first one that failed without numbers (a load error, a structure check), if any."""

    name: str
    artifacts: list[str] = field(default_factory=list)
    count: int = 0
    detail: str = ""


def _failing(validation: dict) -> list[dict]:
    failures = [c for c in validation.get("checks", []) if check_failed(c)]
    return sorted(failures, key=lambda c: not c.get("detail", "").startswith(LOAD_ERROR))


def distinct_failures(validation: dict) -> list[Distinct]:
    """Failing checks grouped by name, root cause (an artifact onnxruntime cannot load) first."""
    groups: dict[str, Distinct] = {}
    for c in _failing(validation):
        g = groups.setdefault(c["name"], Distinct(c["name"]))
        g.count += 1
        if not g.detail and not any(not o["passed"] for o in c.get("outputs", [])):
            g.detail = c.get("detail", "")
        if c["artifact"] not in g.artifacts:
            g.artifacts.append(c["artifact"])
    return list(groups.values())


def worst(validation: dict) -> dict | None:
    """The largest max abs and max rel error over the failing outputs, with the tolerance."""
    outs = [o for c in _failing(validation) for o in c.get("outputs", []) if not o["passed"]]
    if not outs:
        return None
    return {
        "max_abs": max((_num(o["max_abs"]) for o in outs), key=_order),
        "max_rel": max((_num(o["max_rel"]) for o in outs), key=_order),
        "atol": _num(outs[0]["atol"]),
        "rtol": _num(outs[0]["rtol"]),
    }


def validation_line(validation: dict) -> str:
    """'validation failed: N of M checks, K distinct: <each>; worst max abs …, max rel …'."""
    groups = distinct_failures(validation)
    n_failed = sum(g.count for g in groups)
    parts = []
    for g in groups[:MAX_LISTED]:
        times = f" ({g.count} checks)" if g.count > 1 else ""
        detail = f": {_short(g.detail)}" if g.detail else ""
        parts.append(f"{g.name} on {', '.join(g.artifacts)}{times}{detail}")
    if len(groups) > MAX_LISTED:
        parts.append(f"and {len(groups) - MAX_LISTED} more")
    head = f"validation failed: {n_failed} of {len(validation.get('checks', []))} checks"
    head += f", {len(groups)} distinct" if len(groups) > 1 else ""
    line = f"{head}: {'; '.join(parts)}"
    w = worst(validation)
    if w:
        line += (
            f"; worst max abs {_e(w['max_abs'])}, max rel {_e(w['max_rel'])}"
            f" (atol {w['atol']:g}, rtol {w['rtol']:g})"
        )
    return line


def gate_line(gates: list[dict]) -> str:
    """'accuracy gate failed: <detail> (pytorch, onnx); …': each broken budget once."""
    broken: dict[str, list[str]] = {}
    for g in gates:
        if not g["passed"]:
            broken.setdefault(g["detail"], []).append(g["judged"])
    return "accuracy gate failed: " + "; ".join(f"{d} ({', '.join(j)})" for d, j in broken.items())


def check_lines(validation: dict) -> list[str]:
    """One aligned line per failing check: artifact, check, and its numbers or its detail."""
    rows = []
    for c in _failing(validation):
        bad = [o for o in c.get("outputs", []) if not o["passed"]]
        if bad:
            o = max(bad, key=lambda o: _order(_num(o["max_abs"])))
            n_bad = sum(int(x["n_bad"]) for x in bad)
            numel = sum(int(x["numel"]) for x in bad)
            name = f" {o['name']}:" if len(c["outputs"]) > 1 else ""
            what = (
                f"{name} max abs {_e(_num(o['max_abs']))}, max rel {_e(_num(o['max_rel']))},"
                f" {n_bad} of {numel} elements outside atol {_num(o['atol']):g}, rtol {_num(o['rtol']):g}"
            ).strip()
        else:
            what = _short(c.get("detail", ""), 300)
        rows.append((c["artifact"], c["name"], what))
    return _aligned("FAIL", rows)


def gate_lines(gates: list[dict]) -> list[str]:
    rows = [("gate", g["judged"], g["detail"]) for g in gates if not g["passed"]]
    return _aligned("FAIL", rows)


def _aligned(tag: str, rows: list[tuple[str, str, str]]) -> list[str]:
    w0 = max((len(r[0]) for r in rows), default=0)
    w1 = max((len(r[1]) for r in rows), default=0)
    return [f"{tag}  {a:<{w0}}  {b:<{w1}}  {c}".rstrip() for a, b, c in rows]


def _num(x) -> float:
    return float(x)  # report.json writes NaN and infinities as strings (files.finite)


def _order(x: float) -> float:
    return math.inf if math.isnan(x) else x  # a NaN is the worst error there is


def _e(x: float) -> str:
    return format(x, ".2e") if math.isfinite(x) else str(x)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
