"""secateurs' own recovery loop: the builtin trainers' loss and schedule (``models.train.fit`` for
classifiers, ``models.train_detector.fit`` for builtin:detector), seeded and deterministic, with
each unstructured mask re-applied after every optimizer step.

The masks are plain boolean tensors held here, never attached to the model: after each step the
weights they mark are set to +0.0 (``masked_fill_``, so no -0.0 reaches the bit-exact sparse
encodings). Nothing is left on the model: no forward pre-hooks, ``_orig`` copies or parametrizations.
"""

from __future__ import annotations

import math

import torch

from secateurs.errors import InputError
from secateurs.finetune.data import ClassifierData, DetectorData
from secateurs.model.conv_targets import get_param
from secateurs.models import train, train_detector
from secateurs.models.detector import Detector
from secateurs.progress import SILENT, Progress

CLASSIFY_BATCH = 64
DETECT_BATCH = 32
CLASSIFY_WEIGHT_DECAY = 0.0  # train_detector.fit keeps its own 1e-4


def masks_of(model, params: list[str]) -> dict[str, torch.Tensor]:
    """parameter name -> True where its weight is nonzero now (what pruning left)."""
    return {name: get_param(model, name).detach() != 0 for name in params}


def apply_masks(model, masks: dict[str, torch.Tensor]) -> int:
    """Zero every weight a mask marks as pruned; return how many had become nonzero."""
    revived = 0
    with torch.no_grad():
        for name, keep in masks.items():
            w = get_param(model, name)
            revived += int(((w != 0) & ~keep).sum())
            w.masked_fill_(~keep, 0.0)
    return revived


def finetune(
    model,
    data: ClassifierData | DetectorData,
    epochs: int,
    lr: float,
    seed: int,
    masks: dict[str, torch.Tensor],
    progress: Progress = SILENT,
) -> list[float]:
    """Train ``model`` in place for ``epochs``; return the mean training loss of each epoch.
    Deterministic algorithms are on while it trains (and restored after): the same seed and
    thread count give the same weights."""
    losses: list[float] = []
    steps: list[float] = []
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.manual_seed(seed)  # dropout and anything else drawing from the global generator
    torch.use_deterministic_algorithms(True)
    try:
        with progress.steps(epochs, "finetune") as advance:

            def after_step(loss: float) -> None:
                steps.append(loss)
                apply_masks(model, masks)

            def after_epoch(epoch: int) -> None:
                losses.append(sum(steps) / len(steps))
                steps.clear()
                if not math.isfinite(losses[-1]):
                    raise InputError(
                        f"fine-tuning diverged in epoch {epoch + 1} (loss {losses[-1]}); lower --finetune-lr"
                    )
                advance(f"epoch {epoch + 1} loss {losses[-1]:.4f}")

            if isinstance(data, DetectorData):
                if not isinstance(model, Detector):
                    raise InputError(
                        "--finetune on builtin:shapes trains builtin:detector's raw maps; for another"
                        " detector pass your own loop with --finetune-fn module:function"
                    )
                train_detector.fit(
                    model, data.epoch_data, epochs, DETECT_BATCH, lr, seed, after_step, after_epoch
                )
            else:
                check_classifier(model, data)
                train.fit(
                    model, data.inputs, data.labels, epochs, CLASSIFY_BATCH, lr,
                    CLASSIFY_WEIGHT_DECAY, seed, after_step, after_epoch,
                )  # fmt: skip
    finally:
        torch.use_deterministic_algorithms(was_deterministic)
        model.eval()
    return losses


def check_classifier(model, data: ClassifierData) -> None:
    """The first output must be class scores (N, classes) covering every label."""
    model.eval()
    with torch.no_grad():
        out = model(data.inputs[:2])
    out = out[0] if isinstance(out, (tuple, list)) else out
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        shape = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise InputError(
            f"{data.source}: fine-tuning a classifier needs (N, classes) scores, the model gives {shape}"
        )
    top = int(data.labels.max())
    if top >= out.shape[1] or int(data.labels.min()) < 0:
        raise InputError(f"{data.source}: labels reach {top} but the model scores {out.shape[1]} classes")
