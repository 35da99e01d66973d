"""The size ledger section: every artifact against its dense reference and the information bound.

Rows come from report.json's ``sizes`` block (report/ledger.py computes it). In HTML each
row also gets a bar of its ratio; the plain renderings leave bar columns out.
"""

from __future__ import annotations

from secateurs.report.blocks import Bar, Block, Cell, Column, Paragraph, Table, cells
from secateurs.report.formats import fmt_bytes

SIZE_COLUMNS = [
    Column("artifact"),
    Column("size", "bytes"),
    Column("ratio (bar)", "bar"),
    Column("vs dense"),
    Column("ratio", "number"),
    Column("saved", "bytes"),
    Column("on pruned weights", "bytes"),
    Column("x bound", "number"),
    Column("warning", "flag"),
]
LEGEND = (
    "bar: size relative to its dense reference; black tick: dense (ratio 1.0);"
    " red: larger than dense; purple: generic compressors of model.onnx"
)


def size_section(sizes: dict | None) -> list[Block]:
    """The ledger's blocks; none before an export wrote an artifact it weighs."""
    if not sizes or not sizes.get("artifacts"):
        return []
    notes = [
        f"Information bound of the pruned weights: {fmt_bytes(round(sizes['bound_bytes']))}"
        f" (dense {fmt_bytes(sizes['pruned_weights_dense_bytes'])}; {sizes['bound_definition']})."
    ]
    if sizes.get("baselines_definition"):
        notes.append(f"Generic compressors of model.onnx: {sizes['baselines_definition']}.")
    return [
        Paragraph([LEGEND], role="legend", rich=True),
        Table(SIZE_COLUMNS, artifact_rows(sizes) + baseline_rows(sizes)),
        Paragraph(notes),
        per_layer(sizes),
    ]


def artifact_rows(sizes: dict) -> list[list[Cell | Bar]]:
    top = _top(sizes)
    rows = []
    for a in sizes["artifacts"]:
        ratio = a["ratio"]
        bar = (
            Bar(0.0)
            if ratio is None
            else Bar(ratio / top, 1.0 / top, "fail" if a["larger_than_dense"] else "")
        )
        rows.append(
            [
                *cells(a["file"], fmt_bytes(a["size"])),
                bar,
                Cell(a["dense_reference"]),
                Cell(_opt(ratio, lambda r: f"{r:.3f}")),
                Cell(_opt(a["savings_bytes"], fmt_bytes)),
                Cell(_opt(a["pruned_weight_bytes"], fmt_bytes)),
                Cell(_opt(a["ratio_to_bound"], lambda r: f"{r:.3f}")),
                Cell("LARGER THAN DENSE", "warn") if a["larger_than_dense"] else Cell(""),
            ]
        )
    return rows


def baseline_rows(sizes: dict) -> list[list[Cell | Bar]]:
    """gzip/zstd of model.onnx: what a generic compressor makes of the dense file."""
    onnx_bytes = sizes.get("model_onnx_bytes")
    top = _top(sizes)
    rows = []
    for label, size in _baselines(sizes):
        ratio = size / onnx_bytes
        rows.append(
            [
                *cells(f"({label} of model.onnx)", fmt_bytes(size)),
                Bar(ratio / top, 1.0 / top, "alt"),
                *cells("model.onnx", f"{ratio:.3f}", fmt_bytes(onnx_bytes - size), "", "", ""),
            ]
        )
    return rows


def _top(sizes: dict) -> float:
    """The bars' full scale: the largest ratio, at least 1.0 (dense)."""
    return max([1.0, *(float(a["ratio"]) for a in sizes["artifacts"] if a["ratio"] is not None)])


def per_layer(sizes: dict) -> Table:
    """Bytes per pruned layer: dense, the bound, and each artifact that stores the weights."""
    files = [a["file"] for a in sizes["artifacts"] if a["pruned_weight_bytes"] is not None]
    columns = [Column("layer"), Column("dense", "bytes"), Column("bound", "bytes")]
    columns += [Column(f, "bytes") for f in files]
    rows = [
        cells(r["name"], fmt_bytes(r["dense_bytes"]), fmt_bytes(round(r["bound_bytes"])))
        + [Cell(fmt_bytes(r["stored_bytes"][f]) if f in r["stored_bytes"] else "") for f in files]
        for r in sizes["layers"]
    ]
    return Table(columns, rows, folded="per-layer bytes")


def _baselines(sizes: dict) -> list[tuple[str, int]]:
    """(label, bytes) pairs; an earlier secateurs's report.json may hold a "skipped" reason (its 64 MB cut-off)."""
    onnx_bytes = sizes.get("model_onnx_bytes")
    found = sizes.get("baselines", {}).items()
    return [(k, v) for k, v in found if isinstance(v, int) and onnx_bytes]


def _opt(x, fmt) -> str:
    return "" if x is None else fmt(x)
