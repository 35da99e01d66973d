"""The report files of an artifact directory: their names, reading them back, and
`secateurs report`'s rewrite. Torch-free, so `report DIR` and `verify` run anywhere."""

from __future__ import annotations

from pathlib import Path

from secateurs import files, manifest
from secateurs.report import SCHEMA, render_markdown

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"


def read_report(directory: Path) -> dict:
    """report.json of ``directory`` (schema secateurs.report/1); InputError naming the file."""
    return files.read_json(
        directory / REPORT_JSON, SCHEMA, "report", f"run `secateurs prune` (or `run`) into {directory} first"
    )


def read_run_record(directory: Path) -> dict:
    """The ``run`` block an earlier command wrote into ``directory``'s manifest (empty if none)."""
    try:
        run = manifest.read(directory).get("run")
    except manifest.ManifestError:
        return {}
    return run if isinstance(run, dict) and isinstance(run.get("timings_s", {}), dict) else {}


def read_timings(directory: Path) -> dict[str, float]:
    return dict(read_run_record(directory).get("timings_s", {}))


def rewrite(directory: Path) -> tuple[dict, dict]:
    """`secateurs report DIR`: report.md and manifest.json written anew from report.json
    (each file replaced atomically); returns (report data, the manifest's run block)."""
    data = read_report(directory)
    run_block = read_run_record(directory)
    files.write_text(directory / REPORT_MD, render_markdown(data))
    files.write_manifest(directory, run_block)
    return data, run_block
