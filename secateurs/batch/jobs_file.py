"""JOBS.toml: a ``[defaults]`` table and ``[[jobs]]`` entries, each a `secateurs run`.

Every key is a `run` option's long name, read exactly as a settings file's ``[run]`` table
(``settings_file.default_map``: the same names, type checks and path rebasing), and the
RunConfig is built by `run`'s own ``config_from``: a job means what the same settings mean
to `run`. A job's keys override ``[defaults]``. Every job is checked before any runs: a bad
file, an unknown key, a missing ``model`` or ``out`` is a UsageError (exit 2) naming the
file and the job (``jobs.toml [[jobs]] #2: ...``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import click

from secateurs import settings_file
from secateurs.commands.common import config_from
from secateurs.config import RunConfig, drop_budgets
from secateurs.errors import SecateursError, UsageError

TOP_KEYS = ("defaults", "jobs")
REQUIRED = ("model", "out")
BATCH_ONLY = ("quiet",)  # options of `batch` itself, meaningless per job


@dataclass(frozen=True)
class Job:
    """One entry: its 1-based ``index``, its RunConfig, `run`'s --auto and --junit, and the
    directory relative paths start from (the driver's, also on a cluster node)."""

    index: int
    config: RunConfig
    auto: bool = False
    junit: Path | None = None
    cwd: str = "."

    @property
    def label(self) -> str:
        return f"#{self.index}"


def read_jobs(path: Path, run_command: click.Command, trust_model_code: bool = False) -> list[Job]:
    """Every job of ``path``, checked as `run` checks its options, before any job runs."""
    name = settings_file.shown(path, Path.cwd())
    raw = settings_file.parse_toml(path, name)
    for key in raw:
        if key not in TOP_KEYS:
            raise UsageError(
                f"{name}: {key}: not a jobs file key; a jobs file holds a [defaults] table and"
                " [[jobs]] entries, each with model and out"
            )
    defaults, entries = raw.get("defaults", {}), raw.get("jobs")
    if not isinstance(defaults, dict):
        raise UsageError(f"{name}: defaults must be a table ([defaults])")
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise UsageError(f"{name}: no jobs; add [[jobs]] entries, each with model and out")
    defaults = _normalized(defaults, f"{name} [defaults]")
    _values(path, f"{name} [defaults]", defaults, run_command)  # a bad default fails as itself
    jobs: list[Job] = []
    outs: dict[Path, int] = {}
    for index, entry in enumerate(entries, 1):
        where = f"{name} [[jobs]] #{index}"
        table = {**defaults, **_normalized(entry, where)}
        for key in REQUIRED:
            if key not in table:
                raise UsageError(
                    f"{where}: no {key}; every job names its model and its output directory (out)"
                )
        for key in BATCH_ONLY:
            if key in table:
                raise UsageError(f"{where}: {key}: give --{key} to `secateurs batch`, not per job")
        given = {key.replace("-", "_") for key in _normalized(entry, where)}  # the job's own keys
        job = _job(path, name, where, index, table, run_command, trust_model_code, given)
        out = job.config.out.resolve()
        if out in outs:
            raise UsageError(
                f"{where}: out {job.config.out} is also job #{outs[out]}'s; give each job its own"
            )
        outs[out] = index
        jobs.append(job)
    return jobs


def _normalized(table: dict, where: str) -> dict:
    """Keys with dashes (as `run` spells its options); the same key twice is refused."""
    out = {}
    for key, value in table.items():
        norm = key.replace("_", "-")
        if norm in out:
            raise UsageError(f"{where}: {key}: given twice")
        out[norm] = value
    return out


def _values(path: Path, where: str, table: dict, run_command: click.Command) -> dict:
    """{param name: value} for `run`, type-checked, paths rebased from the jobs file."""
    settings = settings_file.Settings(path.resolve(), where, "", table, Path.cwd().resolve())
    return settings_file.default_map(settings, {"run": run_command}, "run").get("run", {})


def _job(path, name, where, index, table, run_command, trust_model_code, given=frozenset()) -> Job:
    values = _values(path, where, table, run_command)
    args = ["--trust-model-code"] if trust_model_code else []
    try:
        # a job's own keys are its command line; [defaults] are defaults, as a settings file's
        obj = {"settings": name, "given": frozenset(given)}
        ctx = run_command.make_context("run", args, default_map=values, obj=obj)
    except click.ClickException as e:
        raise UsageError(f"{where}: {e.format_message()}") from None
    with ctx:
        params = dict(ctx.params)
        auto, junit = params.pop("auto", False), params.pop("junit", None)
        params.pop("quiet", None)
        try:
            cfg = config_from(params)
            if auto:
                _check_auto(cfg)
        except SecateursError as e:
            raise type(e)(f"{where}: {e}") from None
    return Job(index, cfg, bool(auto), junit, os.getcwd())


def _check_auto(cfg: RunConfig) -> None:
    """`run --auto`'s own refusals, for a job (its amount can only come from the file)."""
    if click.get_current_context().get_parameter_source("amount") is not click.core.ParameterSource.DEFAULT:
        raise UsageError("auto chooses the amount itself; remove amount (from the job or [defaults])")
    if not cfg.eval or not drop_budgets(cfg):
        raise UsageError("auto needs eval and a budget (max-drop, max-accuracy-drop or min-agreement)")
