"""Task evaluation stages: dense reference before pruning, then pruned PyTorch and model.onnx.

``reference`` runs the dense model once over the evaluation data (before pruning) and keeps
its outputs; ``evaluate`` runs the pruned model and the deployed model.onnx (onnxruntime)
over the same data and compares them with metrics.compare. The accuracy gates judge the
ONNX model, which is what ships, and also the pruned PyTorch model: the worse one counts.
"""

from __future__ import annotations

from secateurs.errors import UsageError
from secateurs.evaluation import metrics
from secateurs.evaluation.data import load_eval_data
from secateurs.evaluation.judge import gates, onnx_scores, torch_scores
from secateurs.pipeline.context import RunContext


def run_reference(ctx: RunContext) -> None:
    cfg = ctx.config
    if not cfg.eval:
        return
    ctx.eval_data = load_eval_data(cfg.eval, ctx.info.input_shape, cfg.seed)
    if cfg.max_accuracy_drop is not None and ctx.eval_data.labels is None:
        raise UsageError(f"--max-accuracy-drop needs labelled data; {cfg.eval} has no labels")
    ctx.dense_outputs = torch_scores(ctx.model, ctx.eval_data.inputs)


def run(ctx: RunContext) -> None:
    if ctx.eval_data is None:
        return
    data = ctx.eval_data
    judged = {"pytorch": torch_scores(ctx.model, data.inputs)}
    onnx_artifact = ctx.artifacts.get("onnx")
    if onnx_artifact is not None:
        judged["onnx"] = onnx_scores(onnx_artifact.path, data.inputs, ctx.config.provider)
    results = {
        name: metrics.compare(ctx.dense_outputs, scores, data.labels) for name, scores in judged.items()
    }
    ctx.evaluation = {
        "data": data.source,
        "samples": data.n,
        "labels": data.labels is not None,
        "results": results,
        "gates": gates(ctx.config, results),
    }
