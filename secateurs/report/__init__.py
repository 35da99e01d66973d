"""Reports: report.json's data (data.py) turned into blocks (blocks.py), rendered by the
terminal, markdown and HTML renderers. Torch-free: it reads dicts, never a model.

The entry points below serve `run` and the split stage commands, report.md, report.html
and the GitHub step summary; ``recommended_artifact`` names what to deploy, for the
report pages and the `run` verdict line alike.
"""

from __future__ import annotations

from pathlib import Path

from secateurs.report import detection, html, markdown, terminal
from secateurs.report.data import SCHEMA, build
from secateurs.report.recommend import Recommendation, recommended_artifact
from secateurs.report.run import document

__all__ = [
    "SCHEMA",
    "Recommendation",
    "build",
    "recommended_artifact",
    "render_html",
    "render_markdown",
    "render_terminal",
]


def render_terminal(
    data: dict, timings: dict[str, float] | None = None, color: bool = False, latency: dict | None = None
) -> str:
    """The summary `run` and the stage commands print; ``color`` paints PASS/FAIL (a TTY only);
    ``latency``: manifest.json's run.latency (the cost stage's), which no hashed file holds."""
    return terminal.render(document(data, timings, latency=latency), color)


def render_markdown(data: dict, timings: dict[str, float] | None = None) -> str:
    """report.md (no timings: it is hashed); the CI step summary passes this run's timings."""
    return markdown.render(document(data, timings))


def render_html(data: dict, images: dict[str, bytes] | None = None, directory: Path | None = None) -> str:
    """report.html; ``images`` maps a caption to PNG bytes (the plots behind a recipe). With
    ``directory`` (the run's), the evaluation's pictures found there are embedded too."""
    return html.render(document(data, images=images, pictures=evaluation_pictures(data, directory)))


def evaluation_pictures(data: dict, directory: Path | None) -> dict[str, bytes]:
    """The PNG files report.json's evaluation names that ``directory`` holds (file name -> bytes)."""
    ev = data.get("evaluation") or {}
    if directory is None or ev.get("task") != "detect":
        return {}
    found = {}
    for name in detection.picture_files(ev):
        path = Path(directory) / name
        if path.is_file():
            found[name] = path.read_bytes()
    return found
