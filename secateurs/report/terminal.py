"""Terminal renderer: sections as '== title ==', tables in aligned columns.

It shows the plain blocks only (see blocks.py); markdown.py shares its layout, so the two
differ only in headings, tables and bullets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from secateurs.report.blocks import Block, Document, Items, Paragraph, Stat, Table, Verdict


def render(doc: Document) -> str:
    out = []
    for s in doc.sections:
        if not s.rich:
            out += [f"== {s.title} ==", body(s.blocks), ""]
    return "\n".join(out)


def body(blocks: Iterable[Block]) -> str:
    return join(blocks, lambda b: table_of(b) if isinstance(b, Table) else "\n".join(item_lines(b)))


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns two spaces apart, a dashed rule under the headers."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def table_of(t: Table) -> str:
    return table(*plain_table(t))


def plain_table(t: Table) -> tuple[list[str], list[list[str]]]:
    """Headers and cell texts, without the bar columns (a bar has no words)."""
    keep = [i for i, c in enumerate(t.columns) if c.kind != "bar"]
    return [t.columns[i].header for i in keep], [[row[i].text for i in keep] for row in t.rows]


def join(blocks: Iterable[Block], render_block: Callable[[Block], str]) -> str:
    """Plain blocks a blank line apart (an attached one directly under the last)."""
    out = None
    for b in blocks:
        if b.rich:
            continue
        text = render_block(b)
        out = text if out is None else out + ("\n" if b.attached else "\n\n") + text
    return out or ""


def item_lines(block: Items | Paragraph) -> list[str]:
    if isinstance(block, Paragraph):
        return list(block.lines)
    width = max((len(i.label) for i in block.items if isinstance(i, Stat)), default=0)
    lines = []
    for item in block.items:
        if isinstance(item, Stat):
            label = f"{item.label}:"
            lines.append(f"{label:<{width + 1}} {item.value} ({item.detail}; {item.footnote})")
        elif isinstance(item, Verdict):
            lines.append(f"{item.label}: {item.word}")
        elif isinstance(item, Paragraph):
            lines += item.lines
        else:
            lines.append(item)
    return lines
