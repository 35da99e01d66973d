"""Reports: report.json's data (data.py) turned into blocks (blocks.py), rendered by the
terminal, markdown and HTML renderers. Torch-free: it reads dicts, never a model.

The entry points below serve `run` and the split stage commands, report.md, report.html
and the GitHub step summary.
"""

from __future__ import annotations

from secateurs.report import html, markdown, terminal
from secateurs.report.data import SCHEMA, build
from secateurs.report.run import document

__all__ = ["SCHEMA", "build", "render_html", "render_markdown", "render_terminal"]


def render_terminal(data: dict, timings: dict[str, float] | None = None) -> str:
    return terminal.render(document(data, timings))


def render_markdown(data: dict, timings: dict[str, float] | None = None) -> str:
    """report.md (no timings: it is hashed); the CI step summary passes this run's timings."""
    return markdown.render(document(data, timings))


def render_html(data: dict, images: dict[str, bytes] | None = None) -> str:
    """report.html; ``images`` maps a caption to PNG bytes (the plots behind a recipe)."""
    return html.render(document(data, images=images))
