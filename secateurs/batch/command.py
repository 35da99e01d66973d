"""`secateurs batch JOBS.toml`: every job a `run`, on this machine or on a Ray cluster."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import click

from secateurs import executors
from secateurs.batch import summary
from secateurs.commands import verdict
from secateurs.commands.options import executor_options, quiet_option, threads_option
from secateurs.progress import Progress
from secateurs.settings_file import shown


@click.command("batch")
@click.argument(
    "jobs_file", metavar="JOBS.toml", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--summary",
    "summary_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write batch.json, the table as JSON and the resume record [default: batch.json"
    " beside JOBS.toml].",
)
@click.option("--no-resume", is_flag=True, help="Run every job, even one whose output is unchanged.")
@click.option(
    "--trust-model-code",
    is_flag=True,
    help="Let every job load TorchScript archives and pickled nn.Module files (never from the file).",
)
@threads_option
@executor_options
@quiet_option
def batch(jobs_file, summary_file, no_resume, trust_model_code, threads, executor, ray_address, quiet):
    """Run every job of JOBS.toml as `secateurs run`, each with its own settings and --out.

    JOBS.toml holds a [defaults] table and [[jobs]] entries; each entry has model and out,
    plus any `run` option under its long name (amount, scope, eval, formats, max-drop, ...),
    overriding [defaults]. Every job is checked before any runs. Each job is staged and
    promoted as a run is; one failed job never stops the others. A job whose output is
    unchanged since the last batch (same settings and inputs, same manifest digest) is
    skipped. Prints a table, writes batch.json and exits with the highest exit code of its
    jobs. --threads is each job's thread count (with --executor ray: default 1 per job).

    \b
    Examples:
      secateurs batch examples/batch/jobs.toml
      secateurs batch jobs.toml --executor ray --threads 2
      secateurs batch jobs.toml --executor ray --ray-address 10.0.0.1:6379
    """
    from secateurs.batch.jobs_file import read_jobs
    from secateurs.commands.run import run as run_command

    verdict.start_clock()
    t0 = time.perf_counter()
    jobs = read_jobs(jobs_file, run_command, trust_model_code)  # every job checked: exit 2 before any runs
    if executor == "ray":
        threads = threads or 1  # a task's threads are the CPUs Ray reserves for it
    jobs = [replace(j, config=replace(j.config, threads=j.config.threads or threads)) for j in jobs]
    summary_file = summary_file or jobs_file.parent / "batch.json"
    earlier = {} if no_resume else summary.earlier_records(summary_file)
    pool = executors.make(executor, ray_address)  # exit 2 without Ray, before any job runs
    from secateurs.batch import job as jobs_run  # torch: after every check

    progress = Progress(quiet)
    records, todo = {}, []
    for j in jobs:
        previous = earlier.get(os.path.abspath(j.config.out))
        if previous is not None and jobs_run.unchanged(j, previous):
            records[j.index] = jobs_run.skipped(previous, j)
            progress.line(
                f"job #{j.index} {shown(j.config.out, Path.cwd())}: skipped, unchanged since the last batch"
            )
        else:
            todo.append(j)

    def done(i: int, result) -> None:
        status = result["status"] if isinstance(result, dict) else "error"
        progress.line(f"job #{todo[i].index} {shown(todo[i].config.out, Path.cwd())}: {status}")

    try:
        results = pool.map(jobs_run.run_job, todo, None, [j.config.threads or 1 for j in todo], done)
    finally:
        pool.close()
    for j, result in zip(todo, results):
        records[j.index] = result if isinstance(result, dict) else lost(j, result.error)
    ordered = [records[j.index] for j in jobs]
    if not quiet:
        click.echo(summary.table(ordered))
    for line in summary.failure_lines(ordered):
        click.echo(line, err=True)
    data = summary.write(summary_file, jobs_file, executor, ordered, time.perf_counter() - t0)
    click.echo(closing_line(summary_file, ordered, data["exit_code"], time.perf_counter() - t0))
    click.get_current_context().exit(data["exit_code"])


def lost(job, error) -> dict:
    """The record of a job whose task produced no record (its Ray worker died every time); the
    staging directories its attempts left are removed (their processes are gone)."""
    from secateurs import files
    from secateurs.batch.job import record

    files.clean_stale_staging(job.config.out)
    return record(job, job.config, None, error.exit_code, str(error), 0.0)


def closing_line(path: Path, records: list[dict], code: int, seconds: float) -> str:
    counts = {}
    for r in records:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    parts = ", ".join(f"{n} {status}" for status, n in counts.items())
    return f"DONE | {shown(path, Path.cwd())} | {len(records)} jobs: {parts} | exit {code} | {seconds:.1f} s"
