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
    from secateurs import report as report_stage
    from secateurs.report.stored import rewrite

    verdict.start_clock()
    data, run_block = rewrite(directory)
    timings, latency = run_block.get("timings_s"), run_block.get("latency")
    click.echo(report_stage.render_terminal(data, timings, color_stdout(), latency))
    click.echo(verdict.success_line("report", directory, data))
