"""Stage finetune (after prune, before export): recover what pruning cost, with secateurs' loop
(--finetune EPOCHS on labelled training data) or the user's (--finetune-fn module:function).

Unstructured zeros stay in place (``finetune.loop`` re-applies the masks after every step, and
after a user's function, counting the weights it revived); a channel-pruned model simply trains,
and its model.pt2 is written again with the trained weights. The pruned PyTorch model's metric on
the --eval data is measured before and after, and the stage writes report.json's ``finetune``
block. Its wall time is the stage timing in manifest.json (report.json holds no timings).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from secateurs.config import FINETUNE_BUILTINS, finetune_data
from secateurs.errors import UsageError
from secateurs.evaluation import detect
from secateurs.evaluation.judge import torch_scores
from secateurs.finetune import data as training_data
from secateurs.finetune.custom import run_function
from secateurs.finetune.loop import CLASSIFY_BATCH, DETECT_BATCH, apply_masks, finetune, masks_of
from secateurs.model.conv_targets import get_param
from secateurs.model.program import save_program
from secateurs.model.prune import count_params, excluded_layers, prove_weights_used
from secateurs.pipeline.context import RunContext
from secateurs.pipeline.prune import PROGRAM
from secateurs.progress import SILENT


def run(ctx: RunContext) -> None:
    cfg = ctx.config
    if cfg.finetune is None and cfg.finetune_fn is None:
        return
    if ctx.info.source == "exported-program":
        raise UsageError(
            f"{ctx.info.spec}: a torch.export program is fixed in inference mode and cannot be"
            " fine-tuned; give the model as module:factory (with --weights) instead"
        )
    masks = masks_of(ctx.model, [r.param for r in ctx.layers]) if cfg.structure == "unstructured" else {}
    before = measure(ctx)
    record: dict = {"function": cfg.finetune_fn, "seed": cfg.seed}
    if cfg.finetune_fn is not None:
        ctx.model, notes = run_function(cfg.finetune_fn, ctx.model)
        ctx.info.notes.extend(notes)
    else:
        data = load_data(ctx)
        losses = finetune(
            ctx.model, data, cfg.finetune, cfg.finetune_lr, cfg.seed, masks, ctx.progress or SILENT
        )
        detector = isinstance(data, training_data.DetectorData)
        record.update(
            data=data.source,
            epochs=cfg.finetune,
            samples=data.n,
            batch_size=DETECT_BATCH if detector else CLASSIFY_BATCH,
            lr=cfg.finetune_lr,
            optimizer="Adam, cosine LR per step" + (", weight decay 1e-4" if detector else ""),
            loss=losses,
        )
    revived = apply_masks(ctx.model, masks)
    if revived:
        ctx.info.notes.append(
            f"--finetune-fn {cfg.finetune_fn} revived {revived:,} pruned weights; zeroed again"
        )
    ctx.layers = [
        dataclasses.replace(r, zeros_after=int((get_param(ctx.model, r.param) == 0).sum()))
        for r in ctx.layers
    ]
    prove_weights_used(
        ctx.model, {r.name: get_param(ctx.model, r.param) for r in ctx.layers}, ctx.info.input_shape
    )
    ctx.excluded = excluded_layers(ctx.model, cfg.exclude)  # trained too: their zeros recounted
    ctx.param_counts = count_params(ctx.model, ctx.layers)
    if ctx.channels:  # the later stages (and a resumed one) load the architecture with its weights from it
        save_program(ctx.model, ctx.info.input_shape, ctx.workdir / PROGRAM)
    after = measure(ctx)
    record.update(
        masked_layers=len(masks),
        zeros_kept=sum(int((~m).sum()) for m in masks.values()),
        revived=revived,
        metric=None if before is None else before_after(before, after),
    )
    ctx.finetune = record


def before_after(before: dict, after: dict) -> dict:
    """One metric record: its name, data and dense value, then the pruned model's before and after."""
    kept = {k: v for k, v in before.items() if k != "value"}
    return {**kept, "before": before["value"], "after": after["value"]}


def load_data(ctx: RunContext):
    spec, shape = finetune_data(ctx.config), ctx.info.input_shape
    if FINETUNE_BUILTINS.get(spec) == "detect":
        return training_data.load_detector_data(spec, shape, ctx.config.seed)
    return training_data.load_classifier_data(spec, shape)


def measure(ctx: RunContext) -> dict | None:
    """The pruned PyTorch model's headline metric on the --eval data (held out), or None without
    it: accuracy (agreement with the dense model when unlabelled), or a detector's mAP50."""
    data, dense = ctx.eval_data, ctx.dense_outputs
    if data is None:
        return None
    if ctx.config.task_of_eval() == "detect":
        found = detect.torch_detections(ctx.model, data, ctx.config.box_format)
        result = detect.score(data, dense, {"pytorch": found})["pytorch"]
        if "pruned" in result:
            return {
                "name": "mAP50",
                "data": data.source,
                "dense": result["dense"]["mAP50"],
                "value": result["pruned"]["mAP50"],
            }
        return {
            "name": "mAP50 agreement",
            "data": data.source,
            "dense": 1.0,
            "value": result["agreement"]["mAP50"],
        }
    top1 = torch_scores(ctx.model, data.inputs).argmax(axis=1)
    if data.labels is not None:
        dense_acc = float(np.mean(dense.argmax(axis=1) == data.labels))
        return {
            "name": "accuracy",
            "data": data.source,
            "dense": dense_acc,
            "value": float(np.mean(top1 == data.labels)),
        }
    return {
        "name": "top-1 agreement",
        "data": data.source,
        "dense": 1.0,
        "value": float(np.mean(top1 == dense.argmax(axis=1))),
    }
