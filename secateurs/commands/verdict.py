"""The last line every pipeline command prints on stdout, as Polygraphy and `yolo export` do:
the status, the directory, what to deploy (size and ratio), the manifest digest that
`secateurs verify --expect-digest` pins, and the time taken.

It is printed with --quiet too (it is the one line --quiet keeps); a failure first lists
its failing checks or gates with their numbers, unless --quiet.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

NEXT_STAGE = {"prune": "export", "export": "validate"}


def start_clock() -> None:
    """Called as a command starts; the verdict's time is measured from here."""
    obj = click.get_current_context().find_root().obj
    if isinstance(obj, dict):
        obj.setdefault("started", time.perf_counter())


def _elapsed() -> str:
    obj = click.get_current_context().find_root().obj or {}
    started = obj.get("started") if isinstance(obj, dict) else None
    return f"{time.perf_counter() - started:.1f} s" if started is not None else "time unknown"


def _digest(directory: Path) -> str:
    from secateurs import manifest

    try:
        return f"digest {manifest.read(directory)['digest']}"
    except (manifest.ManifestError, KeyError):
        return "no digest (manifest.json unreadable)"


def _recommended(data: dict) -> str:
    from secateurs.report.formats import fmt_bytes
    from secateurs.report.recommend import recommended_artifact

    best = recommended_artifact(data)
    if best is None:
        return "recommended: none (no artifact that onnxruntime loads passed validation)"
    ratio = f", {best.ratio:.3f}x model.onnx" if best.ratio is not None else ""
    return f"recommended {best.file} ({fmt_bytes(best.size)}{ratio})"


def success_line(command: str, directory: Path, data: dict) -> str:
    """The verdict of a command that finished (exit 0), from the report it wrote."""
    from secateurs.report.formats import fmt_pct

    status = data.get("status", "unknown")
    if status == "unvalidated":
        if command == "prune" and data.get("channels"):
            from secateurs.report.channels import params_line

            middle = f"channels removed, {params_line(data['channels'])}"
        elif command == "prune":
            zero = (data.get("sparsity") or {}).get("pruned_tensors") or {}
            middle = f"{fmt_pct(float(zero.get('sparsity', 0.0)))} of the pruned Conv2d weights are zero"
        else:
            names = [a["file"] for a in data.get("artifacts", [])]
            middle = f"{len(names)} artifacts: {', '.join(names)}"
        word = {"prune": "PRUNED, not validated", "export": "EXPORTED, not validated"}.get(
            command, "NOT VALIDATED"
        )
        step = f"next: secateurs {NEXT_STAGE.get(command, 'validate')} {directory}"
        parts = [word, str(directory), middle, _digest(directory), _elapsed(), step]
    elif status == "passed":
        parts = ["PASSED", str(directory), _recommended(data), _digest(directory), _elapsed()]
    else:  # `report` on a failed run's directory
        why = {"failed": "validation", "gate-failed": "accuracy gate"}.get(status, status)
        parts = [f"FAILED ({why})", str(directory), "not for deploying", _digest(directory), _elapsed()]
    return " | ".join(parts)


def failure(data: dict, failed_dir: Path, out: Path, quiet: bool) -> None:
    """Exit 1 or 6: the failing checks and gates with their numbers, then the verdict."""
    from secateurs.report.failures import check_lines, gate_lines
    from secateurs.validators.results import check_failed

    validation = data.get("validation") or {}
    gates = (data.get("evaluation") or {}).get("gates") or []
    lines = check_lines(validation) + gate_lines(gates)
    if not quiet:
        for line in lines:
            click.echo(line)
    n_failed = sum(check_failed(c) for c in validation.get("checks", []))
    if n_failed:
        what = f"FAILED (validation) | {failed_dir} | {n_failed} of {len(validation['checks'])} checks failed"
    else:
        broken = sum(not g["passed"] for g in gates)
        what = f"FAILED (accuracy gate) | {failed_dir} | {broken} of {len(gates)} gates broken"
    kept = f"{out} left as it was" if out.exists() else f"nothing written to {out}"
    click.echo(f"{what} | not for deploying; {kept} | {_elapsed()}")


def removed(paths: list[Path]) -> None:
    """Say what a successful run deleted (a stale <out>.failed), --quiet or not."""
    for path in paths:
        click.echo(f"secateurs: removed {path}, left by an earlier failed run", err=True)


def _recipe_found(data: dict) -> str:
    """sensitivity's finding: the recipe against the uniform amount, or that nothing can be cut."""
    r, u = data["recipe"], data["uniform"]
    if r["sparsity"] == 0.0:  # every layer too sensitive, or (channels) too narrow to round
        rounding = (data.get("structure") or {}).get("round_to")
        at = f" at --round-to {rounding}" if rounding and rounding > 1 else ""
        return f"nothing can be cut within the budget{at}: recipe.json removes nothing"
    if "params" in r:  # channels: what is left of the model, not zeros
        kept, kept_u = f"{r['params']:,} parameters", f"{u['params']:,} parameters"
    else:
        kept, kept_u = f"sparsity {r['sparsity']:.1%}", f"{u['sparsity']:.1%}"
    drop = round(100 * r["drop"], 2) + 0.0  # no "-0.00"
    return f"recipe.json: {kept} at a measured drop of {drop:.2f} points (uniform {u['amount']:g}: {kept_u})"


def tuning_line(command: str, directory: Path, data: dict) -> str:
    """The last line of `sweep` and `sensitivity`: what they found, where, and how long."""
    if command == "sweep":
        rows = data["rows"]
        if not any(data["budget"].get(k) for k in ("max_accuracy_drop", "min_agreement", "max_drop")):
            found = f"{len(rows)} amount{'s' * (len(rows) != 1)}, no budget given"
        elif data["largest_amount_within_budget"] is None:
            found = f"no amount of {len(rows)} within the budget"
        else:
            found = (
                f"largest amount within the budget {data['largest_amount_within_budget']:g} (of {len(rows)})"
            )
    elif "recipe" in data:
        found = _recipe_found(data)
    else:
        found = f"{len(data['layers'])} layers x {len(data['amounts'])} amounts, no budget given"
    return " | ".join(["DONE", str(directory), found, _elapsed()])
