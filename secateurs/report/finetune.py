"""The report's section on recovery fine-tuning, from report.json's ``finetune`` block: what
trained (secateurs' loop and its data, or a --finetune-fn), the loss per epoch, the metric
before and after, and how the unstructured zeros were kept. Its wall time is a stage timing."""

from __future__ import annotations

from secateurs.report.blocks import Cell, Column, Items, Section, Table
from secateurs.report.formats import fmt_pct


def finetune_section(report: dict) -> Section:
    ft = report["finetune"]
    if ft.get("function"):
        what = f"--finetune-fn {ft['function']}: the user's function trained the pruned model"
    else:
        what = (
            f"{ft['epochs']} epoch(s) on {ft['data']}, {ft['samples']:,} samples per epoch, batch"
            f" {ft['batch_size']}, {ft['optimizer']}, lr {ft['lr']:g}, seed {ft['seed']}"
        )
    items = [what]
    metric = ft.get("metric")
    if metric:
        items.append(
            f"{metric['name']} on {metric['data']} (held out), pruned PyTorch model: before fine-tuning"
            f" {fmt_pct(metric['before'])}, after {fmt_pct(metric['after'])} (dense {fmt_pct(metric['dense'])})"
        )
    if ft.get("masked_layers"):
        kept = f"{ft['zeros_kept']:,} pruned weights in {ft['masked_layers']} layer(s) kept at zero"
        items.append(
            kept + (f"; the function revived {ft['revived']:,}, zeroed again" if ft["revived"] else "")
        )
    blocks = [Items(items)]
    if ft.get("loss"):
        rows = [[Cell(str(i)), Cell(f"{loss:.4f}")] for i, loss in enumerate(ft["loss"], 1)]
        blocks.append(Table([Column("epoch", "number"), Column("mean training loss", "number")], rows))
    return Section("Recovery fine-tuning", blocks)
