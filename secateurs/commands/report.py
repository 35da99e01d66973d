"""`report`: print a directory's summary and rewrite its report.md and manifest."""

from __future__ import annotations

import click

from secateurs.commands import verdict
from secateurs.commands.common import color_stdout, directory_argument


@click.command("report")
@directory_argument
def report_command(directory):
    """Stage: print the summary of DIRECTORY and rewrite report.md and manifest.json.

    \b
    Example:
      secateurs report work/ >> "$GITHUB_STEP_SUMMARY"
    """
    from secateurs import files
    from secateurs import report as report_stage
    from secateurs.pipeline.runner import REPORT_MD, read_report, read_run_record

    verdict.start_clock()
    data = read_report(directory)
    run_block = read_run_record(directory)
    files.write_text(directory / REPORT_MD, report_stage.render_markdown(data))
    files.write_manifest(directory, run_block)
    click.echo(report_stage.render_terminal(data, run_block.get("timings_s"), color=color_stdout()))
    click.echo(verdict.success_line("report", directory, data))
