"""`secateurs inspect` as blocks: one row per tensor, the small ones folded, a totals row,
and a legend that says what each column counts. Torch-free, like the command.

Tensors under ``MIN_CUT_BYTES`` always stay inline (an index record would cost more than
any encoding saves), so they are one row: on model.bitmask.onnx that row holds the
decoder's little constants, which would otherwise fill the table.
"""

from __future__ import annotations

from secateurs.report.blocks import Block, Cell, Column, Paragraph, Table, cells
from secateurs.report.formats import fmt_pct
from secateurs.spz import codecs
from secateurs.spz.choose import MIN_CUT_BYTES

INLINE = "inline"
ENCODINGS = {
    INLINE: "zstd of the raw bytes, left in the skeleton stream with the rest of the file",
    "zeros": "every element is zero: nothing stored (only all-zero tensors)",
    "raw": "zstd of the raw bytes as a stream of their own",
    "shuffle": "every element's bytes split into planes (byte 0s, byte 1s ...), each zstd'd",
    "bitmask": "1 bit per element (nonzero or not), then the nonzero values' byte planes",
    "rice": "Rice-coded gaps between the rarer kind of element, then the nonzero values' planes",
}


def tensor_blocks(infos: list, packed: bool) -> list[Block]:
    """The table and its legend for ``spz.inspect``'s TensorInfo list; ``packed``: it read an .spz."""
    small = [i for i in infos if i.nbytes < MIN_CUT_BYTES and i.encoding == INLINE]
    listed = [i for i in infos if i not in small]
    shown = [] if packed else [n for n in names_in_order() if any(n in i.sizes for i in listed)]
    columns = [Column("tensor"), Column("dtype"), Column("shape"), Column("sparsity", "percent")]
    columns += [Column("raw bytes", "number"), *(Column(n, "number") for n in shown)]
    columns += [Column("stored as" if packed else "chosen"), Column("bytes", "number")]
    rows = [_row(i, shown) for i in listed]
    if small:
        rows.append(
            [
                *cells(f"({len(small)} tensors under {MIN_CUT_BYTES} B each)", "", "", ""),
                Cell(f"{sum(i.nbytes for i in small):,}"),
                *(_total(small, n) for n in shown),
                *cells(INLINE, f"{sum(_chosen(i) for i in small):,}"),
            ]
        )
    rows.append(
        [
            *cells(f"total ({len(infos)} tensors)", "", "", ""),
            Cell(f"{sum(i.nbytes for i in infos):,}"),
            *(_total(infos, n) for n in shown),
            *cells("", f"{sum(_chosen(i) for i in infos):,}"),
        ]
    )
    used = shown if not packed else [n for n in names_in_order() if any(i.encoding == n for i in infos)]
    return [Table(columns, rows), Paragraph(legend(used, packed))]


def names_in_order() -> list[str]:
    return [INLINE, *(n for n in codecs.names() if n != INLINE)]


def legend(encodings: list[str], packed: bool) -> list[str]:
    chosen = (
        ["stored as: the encoding this .spz holds the tensor in; bytes: what it took."]
        if packed
        else [
            "chosen: the encoding `secateurs pack` would pick (the smallest that pays for its index",
            "  record, else inline); bytes: what it takes. Each encoding column: what it would take.",
        ]
    )
    lines = [
        "raw bytes: the tensor as the file stores it; sparsity: elements whose bytes are all zero.",
        *chosen,
        f"Tensors under {MIN_CUT_BYTES} B always stay inline and share one row. total: the sum over every",
        "  tensor (an encoding's only where every tensor has a figure); the graph and records are extra.",
        "encodings:",
    ]
    return lines + [f"  {n}: {ENCODINGS.get(n, 'see docs/FORMAT.md')}" for n in encodings]


def _row(i, shown: list[str]) -> list[Cell]:
    return [
        *cells(
            i.name + (f" [{i.file}]" if i.file else ""),
            i.dtype,
            "x".join(map(str, i.shape)) or "scalar",
            fmt_pct(i.sparsity),
            f"{i.nbytes:,}",
        ),
        *(Cell(f"{i.sizes[n]:,}" if n in i.sizes else "") for n in shown),
        *cells(i.encoding, f"{_chosen(i):,}"),
    ]


def _chosen(i) -> int:
    return i.sizes.get(i.encoding, i.nbytes)


def _total(infos: list, name: str) -> Cell:
    """A column's sum, only where every tensor has a figure in it (else the sum would mislead)."""
    return Cell(f"{sum(i.sizes[name] for i in infos):,}" if all(name in i.sizes for i in infos) else "")
