"""Append markdown to a GitHub Actions job summary ($GITHUB_STEP_SUMMARY).

The file is shared by every step of a job, so it is only ever appended to, never
replaced. The CLI reads the environment variable; this module only writes.
"""

from __future__ import annotations

from pathlib import Path

from secateurs.errors import OutputError


def append(summary_path: Path, markdown: str) -> None:
    """Append ``markdown`` (newline-terminated) to ``summary_path``, creating it if missing."""
    text = markdown if markdown.endswith("\n") else markdown + "\n"
    try:
        with open(summary_path, "a", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise OutputError(f"{summary_path}: cannot append the step summary ({e.strerror or e})") from e
