"""Markdown renderer (report.md, the GitHub step summary, sweep.md): the terminal layout
with '#' headings, pipe tables and bulleted item lists."""

from __future__ import annotations

from collections.abc import Iterable

from secateurs.report.blocks import Block, Document, Items, Table
from secateurs.report.terminal import item_lines, join, plain_table


def render(doc: Document) -> str:
    out = [f"# {doc.title} ({doc.status})", ""]
    for s in doc.sections:
        if not s.rich:
            out += [f"## {s.title}", "", body(s.blocks), ""]
    return "\n".join(out)


def body(blocks: Iterable[Block]) -> str:
    return join(blocks, _block)


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _block(b: Block) -> str:
    if isinstance(b, Table):
        return table(*plain_table(b))
    text = "\n".join(item_lines(b))
    return "\n".join(f"- {line}" for line in text.splitlines()) if isinstance(b, Items) else text
