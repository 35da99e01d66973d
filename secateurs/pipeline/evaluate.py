"""Task evaluation stages: dense reference before pruning, then pruned PyTorch and model.onnx.

``reference`` runs the dense model once over the evaluation data (before pruning) and keeps
its outputs (classification: scores; detection: boxes after NMS); ``evaluate`` runs the pruned
model and the deployed model.onnx (onnxruntime) over the same data and compares them with
metrics.compare or detect.score. The gates judge the ONNX model, which is what ships, and
also the pruned PyTorch model: the worse one counts.
"""

from __future__ import annotations

from secateurs.errors import UsageError
from secateurs.evaluation import detect, detection_pictures, detection_plots, metrics
from secateurs.evaluation.data import load_eval_data
from secateurs.evaluation.detection_data import load_detection_data
from secateurs.evaluation.judge import check_unsaid_task, gates, onnx_scores, torch_scores
from secateurs.pipeline.context import RunContext


def run_reference(ctx: RunContext) -> None:
    cfg = ctx.config
    if not cfg.eval:
        return
    if cfg.task_of_eval() == "detect":
        shape = ctx.info.input_shape
        if len(shape) != 4 or shape[1] != 3:
            raise UsageError(f"--task detect needs a model taking 3-channel images (N,3,H,W), not {shape}")
        ctx.eval_data = load_detection_data(cfg.eval, (shape[2], shape[3]), seed=cfg.seed)
        ctx.dense_outputs = detect.torch_detections(ctx.model, ctx.eval_data, cfg.box_format)
        detect.check_reference(ctx.eval_data, ctx.dense_outputs)
        return
    ctx.eval_data = load_eval_data(cfg.eval, ctx.info.input_shape, cfg.seed)
    if cfg.max_accuracy_drop is not None and ctx.eval_data.labels is None:
        raise UsageError(f"--max-accuracy-drop needs labelled data; {cfg.eval} has no labels")
    if cfg.max_drop and ctx.eval_data.labels is None:
        raise UsageError(f"--max-drop needs labelled data for a classifier; {cfg.eval} has no labels")
    ctx.dense_outputs = torch_scores(ctx.model, ctx.eval_data.inputs)
    check_unsaid_task(cfg.eval, cfg.task, ctx.dense_outputs)


def run(ctx: RunContext) -> None:
    if ctx.eval_data is None:
        return
    if ctx.config.task_of_eval() == "detect":
        run_detect(ctx)
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


def run_detect(ctx: RunContext) -> None:
    cfg, data = ctx.config, ctx.eval_data
    judged = {"pytorch": detect.torch_detections(ctx.model, data, cfg.box_format)}
    onnx_artifact = ctx.artifacts.get("onnx")
    if onnx_artifact is not None:
        judged["onnx"] = detect.onnx_detections(onnx_artifact.path, data, cfg.box_format, cfg.provider)
    results = detect.score(data, ctx.dense_outputs, judged)
    ctx.evaluation = {
        "task": "detect",
        "data": data.source,
        "samples": data.n,
        "labels": data.boxes is not None,
        "nms": dict(detect.NMS),
        "reference": None if data.boxes is not None else detect.REFERENCE,
        "results": results,
        "gates": gates(cfg, results),
    }
    ctx.detections = judged


def draw_pictures(ctx: RunContext) -> None:
    """eval_pr_curves.png and eval_boxes.png in the run directory, for model.onnx when it was
    judged (it ships) else the pruned PyTorch model, and what report.html needs to caption them
    (``evaluation["pictures"]``). Part of the report (timed as it), not of the evaluation: the
    drawing, with matplotlib's import, takes about as long as scoring a model."""
    judged, results = ctx.detections, ctx.evaluation["results"]
    name = "onnx" if "onnx" in judged else "pytorch"
    classes = detection_plots.write(ctx.workdir / detection_plots.FILENAME, results[name], name)
    chosen = detection_pictures.choose(ctx.dense_outputs, judged[name])
    detection_pictures.write(
        ctx.workdir / detection_pictures.FILENAME,
        ctx.eval_data,
        ctx.dense_outputs,
        judged[name],
        f"pruned {name}",
        chosen,
    )
    ctx.evaluation["pictures"] = {
        "judged": name,
        "pr_curves": {"file": detection_plots.FILENAME, "classes": classes},
        "boxes": {
            "file": detection_pictures.FILENAME,
            "conf": detection_pictures.CONF,
            "match_iou": detection_pictures.MATCH_IOU,
            "tag_conf": detection_pictures.LABEL_CONF,
            "max_tags": detection_pictures.LABELS,
            "images": [{"id": ctx.eval_data.image_ids[i], "unmatched": n} for i, n in chosen],
        },
    }
