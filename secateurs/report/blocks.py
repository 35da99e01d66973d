"""Report blocks: what a report says, built once from its data and rendered three ways.

Builders (run.py, sizes.py, checks.py, tuning.py) turn report data into a ``Document``;
the terminal, markdown and HTML renderers each walk it, so they cannot disagree. A cell
holds its final text, so every rendering shows the same characters. The HTML renderer
styles a cell by its column's kind and by the tone the builder took from the data (a
verdict, a sign, a flag), never by reading the text.

Blocks marked ``rich`` (bars, charts, legends, counts, images) appear only in HTML; the
terminal and markdown renderings skip them and keep their exact bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

# Column kinds. text/prose: words (prose wraps); number/bytes/percent: right-aligned figures;
# delta: a signed figure, toned by its sign; verdict/flag: toned words; bar: an HTML bar.
KINDS = ("text", "prose", "number", "bytes", "percent", "delta", "verdict", "flag", "bar")
# Tones (a Cell's, Bar's or Paragraph's ``tone``), set from the data: "" (none), pass/fail (a
# verdict), warn (a flag), pos/neg (a delta's sign), alt (a bar for a baseline rather than an artifact).


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = "text"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"column {self.header!r}: unknown kind {self.kind!r}; known: {', '.join(KINDS)}")


@dataclass(frozen=True)
class Cell:
    text: str
    tone: str = ""


@dataclass(frozen=True)
class Bar:
    """A 0..1 bar with an optional tick (a target, or where 1.0 falls)."""

    fraction: float
    tick: float | None = None
    tone: str = ""
    text: str = ""  # what a bar says in words: nothing (plain renderings drop bar columns)


@dataclass(frozen=True)
class Table:
    columns: list[Column]
    rows: list[list[Cell | Bar]]
    rich: bool = False
    attached: bool = False
    folded: str = ""  # HTML: shown folded under this summary line

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]


@dataclass(frozen=True)
class Paragraph:
    """Lines of text; ``attached`` ones follow the previous block without a blank line."""

    lines: list[str]
    tone: str = ""
    role: str = ""  # "legend" (explains a visual) or "note" (a caveat every reader must see)
    rich: bool = False
    attached: bool = False


@dataclass(frozen=True)
class Stat:
    """A headline figure: '<label>: <value> (<detail>; <footnote>)'; HTML shows it as a tile."""

    label: str
    value: str
    detail: str
    footnote: str
    unit: str = ""  # HTML only: what ``detail`` counts


@dataclass(frozen=True)
class Verdict:
    """'<label>: <word>', the word toned."""

    label: str
    word: str
    tone: str = ""


@dataclass(frozen=True)
class Items:
    """One line per item: plain lines, bullets in markdown, tiles and a list in HTML."""

    items: list[str | Stat | Verdict | Paragraph]
    rich: bool = False
    attached: bool = False


@dataclass(frozen=True)
class Image:
    caption: str
    png: bytes
    rich: bool = True
    attached: bool = False


Block = Table | Paragraph | Items | Image


@dataclass(frozen=True)
class Section:
    title: str
    blocks: list[Block]

    @property
    def rich(self) -> bool:
        """Nothing in it for the plain renderings: they leave the whole section out."""
        return all(b.rich for b in self.blocks)


@dataclass(frozen=True)
class Document:
    title: str
    sections: list[Section]
    status: str = ""  # shown as a badge in HTML and after the markdown title
    status_tone: str = ""  # pass/fail; none: a neutral badge (e.g. "unvalidated")


def cells(*texts: str) -> list[Cell]:
    return [Cell(t) for t in texts]


def sign_tone(x: float | None) -> str:
    if x is None or x == 0:
        return ""
    return "neg" if x < 0 else "pos"


def verdict_tone(passed: bool | None) -> str:
    return "" if passed is None else ("pass" if passed else "fail")
