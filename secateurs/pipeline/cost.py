"""Stage cost (after validate): parameters, MACs and onnxruntime latency, pruned against dense.

The denominator is the dense original: the model spec loaded again as the load stage did
(the same --weights; a factory's seeded weights alike) and exported to a temporary ONNX file
with the exporter, opset and axes model.onnx got. That file is not an artifact: it lives in a
temporary directory outside the run's, and is deleted at the end of the stage. Loading again
costs one more load and export, where keeping a copy from the load stage would hold a second
model in memory through every stage; for unstructured runs its graph is model.onnx's with the
original weights, for channel runs the wider graph the pruning started from.

Counts (``validators.onnx_cost``) go into report.json's ``cost`` block: they are facts of the
artifacts, identical run to run. Latency (``validators.latency``) varies run to run, so it goes
into manifest.json's ``run`` block beside the stage timings, outside every hashed file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import onnx

from secateurs import exporters
from secateurs.errors import SecateursError
from secateurs.exporters.onnx_model_torch import (
    PROTOBUF_LIMIT,
    export_onnx,
    move_to_external_data,
    weight_bytes,
)
from secateurs.model.load import load_model
from secateurs.pipeline.context import RunContext
from secateurs.pipeline.validate import same_file
from secateurs.validators import latency, onnx_cost

DENSE = "dense original"


def run(ctx: RunContext) -> None:
    cfg = ctx.config
    pruned = ctx.artifacts[exporters.DENSE_ONNX].path
    shape = tuple(ctx.info.input_shape)
    per_sample = shape if ctx.info.fixed_batch else (1, *shape[1:])
    ctx.latency = None
    if cfg.structure == "unstructured" and not cfg.latency_runs:
        ctx.cost = same_graph_cost(ctx, per_sample)  # nothing to time: no dense export needed
        return
    with tempfile.TemporaryDirectory(prefix="secateurs-dense-") as tmp:
        dense = Path(tmp) / "dense.onnx"
        try:
            export_dense_original(ctx, dense)
        except SecateursError as e:  # the artifacts stand; only the comparison is missing
            ctx.cost, ctx.latency = {"error": f"the dense original could not be exported: {e}"}, None
            return
        before = onnx_cost.count(onnx.load(str(dense)), per_sample)
        after = onnx_cost.count(ctx.dense_onnx(), per_sample)
        ctx.release_dense_onnx()
        ctx.cost = cost_block(ctx, before, after)
        if cfg.latency_runs:
            paths, copies = {DENSE: dense}, {}
            for name, a in ctx.artifacts.items():
                if exporters.ONNXRUNTIME not in exporters.get(name).runtimes or not a.path.is_file():
                    continue
                if name != exporters.DENSE_ONNX and same_file(ctx, name):
                    copies[a.path.name] = pruned.name  # the same bytes: timed once
                else:
                    paths[a.path.name] = a.path
            sizes = latency.batches(shape, ctx.info.fixed_batch)
            result = latency.measure(
                paths, shape, sizes, cfg.latency_runs, provider=cfg.provider, seed=cfg.seed
            )
            result["same_bytes_as"] = copies
            result["denominator"] = DENSE
            ctx.latency = result


def same_graph_cost(ctx: RunContext, per_sample: tuple[int, ...]) -> dict:
    """Unstructured pruning keeps every shape, so the dense original's graph is model.onnx's:
    the same parameters and MACs. Its nonzero counts would need its weights, so they are null."""
    after = onnx_cost.count(ctx.dense_onnx(), per_sample)
    ctx.release_dense_onnx()
    before = onnx_cost.GraphCost(**{**after.to_json(), "nonzero_params": None, "nonzero_macs": None})
    block = cost_block(ctx, before, after)
    block["counted_on"] = (
        "model.onnx's graph for both: with --latency-runs 0 an unstructured run exports no dense"
        " original, whose graph has model.onnx's shapes (nonzero counts unknown: null)"
    )
    return block


def export_dense_original(ctx: RunContext, path: Path) -> None:
    """The model as the load stage built it, before pruning, exported as model.onnx was."""
    cfg = ctx.config
    model, info = load_model(cfg.model, cfg.weights, ctx.info.input_shape, cfg.trust_model_code)
    exporter = ctx.info.exporter or ("torchscript" if info.source == "torchscript" else "dynamo")
    export_onnx(model, info, path, exporter, cfg.dynamic_hw, cfg.opset)
    if weight_bytes(model) > PROTOBUF_LIMIT:
        move_to_external_data(path)


def cost_block(ctx: RunContext, before: onnx_cost.GraphCost, after: onnx_cost.GraphCost) -> dict:
    """report.json's ``cost``: both graphs' counts and the ratios, dense over pruned."""
    unstructured = ctx.config.structure == "unstructured"
    return {
        "counted_on": "the ONNX graphs: model.onnx, and the dense original exported the same way",
        "denominator": DENSE,
        "shape": list(before.shape),
        "dense_original": before.to_json(),
        "pruned": after.to_json(),
        "params_ratio": _ratio(before.params, after.params),
        "macs_ratio": _ratio(before.macs, after.macs),
        "nonzero_macs_ratio": _ratio(before.macs, after.nonzero_macs),  # dense MACs / nonzero ones
        "note": (
            "unstructured pruning zeroes weights in place: the graph keeps its shapes, so MACs and"
            " onnxruntime latency stay the dense model's; zeros save bytes on disk, not time."
            " nonzero_macs counts what a sparse kernel could skip; onnxruntime does not skip them."
            if unstructured
            else "channel pruning removes whole channels: a smaller dense graph, fewer MACs for any runtime."
        ),
    }


def _ratio(dense: int, pruned: int) -> float | None:
    """How many times fewer: dense / pruned (1.0 when equal), None when the pruned graph counts 0."""
    return dense / pruned if pruned else None
