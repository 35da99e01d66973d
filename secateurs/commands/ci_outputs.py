"""What CI reads from a run besides its exit code: --junit XML and the GitHub step summary.

Both are built from the run's report.json data, so a passed run and a failed one (whose
report is in <out>.failed) go through one code path.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from secateurs.config import RunConfig
from secateurs.errors import SecateursError, UsageError


def execute_reported(cfg: RunConfig, stages: list[str], junit: Path | None, **kwargs):
    """execute(), then --junit and $GITHUB_STEP_SUMMARY from the run's report, passed or failed."""
    from secateurs.errors import GateFailed, ValidationFailed
    from secateurs.pipeline.runner import execute, failed_dir
    from secateurs.report.stored import read_report, read_timings

    if junit is not None and junit.resolve().is_relative_to(cfg.out.resolve()):
        raise UsageError(
            f"--junit {junit}: write it outside --out {cfg.out}; the manifest lists only what the run"
            " wrote, so `secateurs verify` would reject the extra file"
        )
    try:
        ctx, data = execute(cfg, stages, **kwargs)
    except (ValidationFailed, GateFailed):
        failed = failed_dir(cfg.out)
        try:
            ci_outputs(read_report(failed), read_timings(failed), junit)
        except SecateursError as e:  # the verdict (and its exit code) matters more than its paperwork
            click.echo(f"secateurs: error: {e}", err=True)
        raise
    ci_outputs(data, ctx.timings, junit)
    return ctx, data


def ci_outputs(data: dict, timings: dict, junit: Path | None) -> None:
    from secateurs import report
    from secateurs.validators.results import ValidationResult

    if junit is not None:
        from secateurs.ci.junit import write_junit

        checks = ValidationResult.from_json(data.get("validation") or {}).checks
        gates = (data.get("evaluation") or {}).get("gates")
        write_junit(junit, f"secateurs {(data.get('model') or {}).get('spec', '')}".strip(), checks, gates)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        from secateurs.ci import step_summary

        step_summary.append(Path(summary), report.render_markdown(data, timings))
