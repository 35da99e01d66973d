"""The report's section on a --structure channels run, from report.json's ``channels`` block:
parameters before and after, and each Conv2d/Linear layer's widths, with why a layer kept its
channels (an output layer, --exclude, a coupling that cannot be cut)."""

from __future__ import annotations

from secateurs.report.blocks import Cell, Column, Items, Paragraph, Section, Stat, Table
from secateurs.report.formats import fmt_pct

COLUMNS = [
    Column("layer"),
    Column("kind"),
    Column("out channels", "number"),
    Column("removed", "number"),
    Column("in channels", "number"),
    Column("kept because", "prose"),
]


def params_line(channels: dict) -> str:
    """'parameters 1,234 -> 567 (-54.1%)', for the verdict line of `prune`."""
    value, detail = _params(channels)
    return f"parameters {value} ({detail})"


def _params(channels: dict) -> tuple[str, str]:
    before, after = channels["params_before"], channels["params_after"]
    cut = 1 - after / before if before else 0.0
    return f"{before:,} -> {after:,}", f"-{fmt_pct(cut)}"


def params_stat(channels: dict) -> Stat:
    return Stat("parameters", *_params(channels), "every parameter of the PyTorch model, before -> after")


def channel_stats(channels: dict) -> list[Stat]:
    """The summary's headline of a channel run (zeros are not what it removes): output
    channels removed, and parameters before -> after."""
    convs = [r for r in channels["layers"] if r["kind"] == "Conv2d"]
    total = sum(r["out_before"] for r in convs)
    removed = sum(r["out_before"] - r["out_after"] for r in convs)
    share = fmt_pct(removed / total if total else 0.0)
    footnote = "output channels (filters) of every Conv2d, output and excluded layers included"
    return [
        Stat("Conv2d output channels removed", share, f"{removed:,} / {total:,}", footnote),
        params_stat(channels),
    ]


def channel_section(report: dict) -> Section:
    channels = report["channels"]
    rows = [
        [
            Cell(r["name"]),
            Cell(r["kind"]),
            Cell(_change(r["out_before"], r["out_after"])),
            Cell(f"{r['out_before'] - r['out_after']:,}"),
            Cell(_change(r["in_before"], r["in_after"])),
            Cell(r["kept"] or ""),
        ]
        for r in channels["layers"]
    ]
    rounding = (
        f", channel counts rounded to multiples of {channels['round_to']}"
        if (channels.get("round_to") or 1) > 1
        else ", exact channel counts (--round-to 1)"
    )
    outputs = ", ".join(channels["output_layers"]) or "none"
    items = Items(
        [
            params_stat(channels),
            f"output layers (keep their channels, found from the graph): {outputs}",
            f"{channels['groups_cut']} coupled group(s) cut{rounding}; the smaller architecture is"
            f" {channels['program']} (torch.export, no pickle): `secateurs run {channels['program']}` or"
            " torch.export.load reads it",
        ]
    )
    tuned = (
        "Recovery fine-tuning ran (below)."
        if report.get("finetune")
        else (
            "No fine-tuning has run (--finetune EPOCHS), so accuracy can drop more than with"
            " unstructured pruning at the same amount."
        )
    )
    note = Paragraph(
        [
            "Removed channels make model.onnx a smaller dense model: fewer parameters and less"
            f" compute. {tuned}"
        ],
        role="note",
    )
    return Section("Channels removed", [items, note, Table(COLUMNS, rows)])


def _change(before: int, after: int) -> str:
    return f"{before:,}" if before == after else f"{before:,} -> {after:,}"
