"""Terminal renderer: sections as '== title ==', tables in aligned columns.

It shows the plain blocks only (see blocks.py); markdown.py shares its layout, so the two
differ only in headings, tables and bullets. With ``color`` (the caller decides: only for
a terminal, never with NO_COLOR), words toned pass or fail are green or red; the padding
stays outside the colour codes, so columns line up the same either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from secateurs.report.blocks import Block, Document, Items, Paragraph, Stat, Table, Verdict

ANSI = {"pass": "\033[32m", "fail": "\033[1;31m"}  # green; bold red
RESET = "\033[0m"


def render(doc: Document, color: bool = False) -> str:
    out = []
    for s in doc.sections:
        if not s.rich:
            out += [f"== {s.title} ==", body(s.blocks, color), ""]
    return "\n".join(out)


def paint(text: str, tone: str, color: bool) -> str:
    """``text`` in its tone's colour when ``color`` is on and the tone has one."""
    return f"{ANSI[tone]}{text}{RESET}" if color and text and tone in ANSI else text


def body(blocks: Iterable[Block], color: bool = False) -> str:
    return join(
        blocks, lambda b: table_of(b, color) if isinstance(b, Table) else "\n".join(item_lines(b, color))
    )


def table(
    headers: list[str], rows: list[list[str]], tones: list[list[str]] | None = None, color: bool = False
) -> str:
    """Left-aligned columns two spaces apart, a dashed rule under the headers."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    tones = tones or [[""] * len(headers) for _ in rows]

    def line(texts, row_tones):
        padded = (paint(t, tone, color) + " " * (w - len(t)) for t, tone, w in zip(texts, row_tones, widths))
        return "  ".join(padded).rstrip()

    lines = [line(headers, [""] * len(headers)), line(["-" * w for w in widths], [""] * len(headers))]
    lines += [line(row, row_tones) for row, row_tones in zip(rows, tones)]
    return "\n".join(lines)


def table_of(t: Table, color: bool = False) -> str:
    keep = _kept(t)
    tones = [[row[i].tone for i in keep] for row in t.rows]
    return table(*plain_table(t), tones=tones, color=color)


def plain_table(t: Table) -> tuple[list[str], list[list[str]]]:
    """Headers and cell texts, without the bar columns (a bar has no words)."""
    keep = _kept(t)
    return [t.columns[i].header for i in keep], [[row[i].text for i in keep] for row in t.rows]


def _kept(t: Table) -> list[int]:
    return [i for i, c in enumerate(t.columns) if c.kind != "bar"]


def join(blocks: Iterable[Block], render_block: Callable[[Block], str]) -> str:
    """Plain blocks a blank line apart (an attached one directly under the last)."""
    out = None
    for b in blocks:
        if b.rich:
            continue
        text = render_block(b)
        out = text if out is None else out + ("\n" if b.attached else "\n\n") + text
    return out or ""


def item_lines(block: Items | Paragraph, color: bool = False) -> list[str]:
    if isinstance(block, Paragraph):
        return [paint(line, block.tone, color) for line in block.lines]
    width = max((len(i.label) for i in block.items if isinstance(i, Stat)), default=0)
    lines = []
    for item in block.items:
        if isinstance(item, Stat):
            label = f"{item.label}:"
            lines.append(f"{label:<{width + 1}} {item.value} ({item.detail}; {item.footnote})")
        elif isinstance(item, Verdict):
            lines.append(f"{item.label}: {paint(item.word, item.tone, color)}")
        elif isinstance(item, Paragraph):
            lines += item_lines(item, color)
        else:
            lines.append(item)
    return lines
