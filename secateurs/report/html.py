"""HTML renderer: one self-contained page (inline CSS, no scripts, images as data: URIs).

It walks the blocks directly. A cell's class comes from its column's kind and the tone the
builder set from the data; every text is escaped here, once.
"""

from __future__ import annotations

import base64
from html import escape

from secateurs.report.blocks import (
    Bar,
    Block,
    Cell,
    Column,
    Document,
    Image,
    Items,
    Paragraph,
    Stat,
    Table,
    Verdict,
)
from secateurs.report.html_style import CSS

KIND_CLASS = {"number": "num", "bytes": "num", "percent": "num", "delta": "num", "prose": "wrap"}
TONE_CLASS = {"pass": "PASS", "fail": "FAIL", "warn": "warn", "pos": "pos", "neg": "neg"}
FILL_CLASS = {"alt": "alt", "fail": "bad"}
BADGE_CLASS = {"pass": "ok", "fail": "bad"}
CODE_KINDS = ("text", "prose")  # `name` in these cells (and in any line of words) is shown as code


def render(doc: Document) -> str:
    parts = [_header(doc)] + [_section(s.title, "".join(_block(b) for b in s.blocks)) for s in doc.sections]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(doc.title)}</title><style>{CSS}</style></head>"
        "<body><main>\n" + "\n".join(parts) + "\n</main></body></html>\n"
    )


def _header(doc: Document) -> str:
    badge = ""
    if doc.status:
        cls = BADGE_CLASS.get(doc.status_tone, "plain")
        badge = f'<span class="badge {cls}">{escape(doc.status.upper())}</span>'
    return f"<section><h1>{escape(doc.title)}{badge}</h1></section>"


def _section(title: str, inner: str) -> str:
    return f"<section><h2>{escape(title)}</h2>\n{inner}\n</section>"


def _block(b: Block) -> str:
    if isinstance(b, Table):
        return _table(b)
    if isinstance(b, Paragraph):
        return _paragraph(b)
    if isinstance(b, Items):
        return _items(b)
    if isinstance(b, Image):
        data = base64.b64encode(b.png).decode("ascii")
        return (
            f'<figure><img alt="{escape(b.caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{escape(b.caption)}</figcaption></figure>"
        )
    raise TypeError(f"no HTML for block {type(b).__name__}")


def _paragraph(p: Paragraph) -> str:
    classes = " ".join(c for c in (p.role, TONE_CLASS.get(p.tone, "")) if c)
    attr = f' class="{classes}"' if classes else ""
    tag = "div" if p.role == "note" else "p"
    return f"<{tag}{attr}>" + "<br>".join(_code(escape(line)) for line in p.lines) + f"</{tag}>"


def _items(block: Items) -> str:
    """Stats as tiles, then the lines as a list, then any note."""
    tiles, lines, notes = [], [], []
    for item in block.items:
        if isinstance(item, Stat):
            tiles.append(
                f'<div class="tile"><small>{escape(item.label)}</small><b>{escape(item.value)}</b>'
                f"{escape(' '.join(filter(None, (item.detail, item.unit))))}"
                f"<br><small>{escape(item.footnote)}</small></div>"
            )
        elif isinstance(item, Verdict):
            cls = TONE_CLASS.get(item.tone, "")
            word = f'<span class="{cls}">{escape(item.word)}</span>' if cls else escape(item.word)
            lines.append(f"<li>{escape(item.label)}: {word}</li>")
        elif isinstance(item, Paragraph):
            notes.append(_paragraph(item))
        else:
            lines.append(f"<li>{_code(escape(item))}</li>")
    out = f'<div class="tiles">{"".join(tiles)}</div>' if tiles else ""
    return out + (f'<ul class="items">{"".join(lines)}</ul>' if lines else "") + "".join(notes)


def _table(t: Table) -> str:
    head = "".join(_th(c) for c in t.columns)
    body = "".join(
        "<tr>" + "".join(_cell(c, x) for c, x in zip(t.columns, row, strict=True)) + "</tr>" for row in t.rows
    )
    narrow = ' class="narrow"' if len(t.columns) <= 2 else ""
    # a table wider than its card scrolls inside it instead of stretching the page
    html = f'<div class="scroll"><table{narrow}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    return f"<details><summary>{escape(t.folded)}</summary>{html}</details>" if t.folded else html


def _th(column: Column) -> str:
    """A header aligned as its column's figures are (right for numbers)."""
    cls = KIND_CLASS.get(column.kind, "")
    return (
        f'<th class="{cls}">{escape(column.header)}</th>'
        if cls == "num"
        else f"<th>{escape(column.header)}</th>"
    )


def _cell(column: Column, x: Cell | Bar) -> str:
    if isinstance(x, Bar):
        return f"<td>{_bar(x)}</td>"
    kind = KIND_CLASS.get(column.kind, "") if x.text else ""  # an empty cell needs no alignment
    classes = " ".join(c for c in (kind, TONE_CLASS.get(x.tone, "")) if c)
    text = _code(escape(x.text)) if column.kind in CODE_KINDS else escape(x.text)
    return f'<td class="{classes}">{text}</td>' if classes else f"<td>{text}</td>"


def _bar(b: Bar) -> str:
    fill = " ".join(c for c in ("fill", FILL_CLASS.get(b.tone, "")) if c)
    tick = "" if b.tick is None else f'<span class="tick" style="left:{_clamp(b.tick) * 100:.2f}%"></span>'
    return f'<div class="bar"><span class="{fill}" style="width:{_clamp(b.fraction) * 100:.2f}%"></span>{tick}</div>'


def _code(escaped: str) -> str:
    """`spans` between paired backticks as <code>; an unpaired backtick stays as it is."""
    parts = escaped.split("`")
    if len(parts) < 3 or len(parts) % 2 == 0:
        return escaped
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _clamp(x: float) -> float:
    return max(0.0, min(1.0, x))
