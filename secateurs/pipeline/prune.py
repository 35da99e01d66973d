"""Stage 2, prune: zero the smallest-|w| Conv2d weights, permanently.

Three concerns stay apart:
  score   - L1 magnitude |w| (``scores``);
  select  - how many to cut and where: round(amount * numel) per tensor (``layer``
            scope, as ``torch.nn.utils.prune.l1_unstructured``) or one count over all
            targets (``global`` scope, as ``prune.global_unstructured``);
  apply   - write zeros into the plain ``weight`` tensor in place.
No masks, hooks, ``_orig`` copies or parametrizations are left behind.
"""

from __future__ import annotations

import re

import numpy as np

from secateurs.errors import InputError, UsageError
from secateurs.pipeline.context import LayerRecord, RunContext


def run(ctx: RunContext) -> None:
    cfg = ctx.config
    ctx.layers, notes = prune_model(ctx.model, cfg.amount, cfg.scope, cfg.exclude)
    ctx.info.notes.extend(notes)
    ctx.param_counts = count_params(ctx.model, ctx.layers)


def targets(model, exclude: str | None = None) -> tuple[list[tuple[str, object]], list[str]]:
    """Conv2d modules to prune, each weight tensor once (tied weights are shared)."""
    import torch.nn as nn

    try:
        pattern = re.compile(exclude) if exclude else None
    except re.error as e:
        raise UsageError(f"--exclude is not a valid regular expression: {e}") from None
    chosen, seen, notes = [], {}, []
    for name, module in model.named_modules():
        if not isinstance(module, nn.Conv2d) or (pattern and pattern.search(name)):
            continue
        notes.extend(make_plain(name, module))
        key = id(module.weight)
        if key in seen:
            notes.append(f"{name}.weight is tied to {seen[key]}.weight; pruned once")
            continue
        seen[key] = name
        chosen.append((name, module))
    return chosen, notes


def make_plain(name: str, module) -> list[str]:
    """Fold leftover torch.nn.utils.prune state or parametrizations into a plain weight."""
    from torch.nn.utils import parametrize, prune

    notes = []
    if prune.is_pruned(module) and hasattr(module, "weight_orig"):
        prune.remove(module, "weight")
        notes.append(f"{name}: existing torch prune mask made permanent before pruning")
    if parametrize.is_parametrized(module, "weight"):
        parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
        notes.append(f"{name}: weight parametrization removed (value kept) before pruning")
    return notes


def scores(weight) -> np.ndarray:
    """L1 magnitude as a flat numpy array; float16/bfloat16 are widened exactly."""
    import torch

    w = weight.detach().reshape(-1)
    if w.dtype not in (torch.float32, torch.float64):
        w = w.float()
    return np.abs(w.cpu().numpy())


def smallest(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k smallest values, O(n) by partition (ties broken arbitrarily)."""
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    if k >= values.size:
        return np.arange(values.size)
    return np.argpartition(values, k - 1)[:k]


def prune_model(model, amount: float, scope: str = "layer", exclude: str | None = None):
    """Prune every selected Conv2d in place; return (per-layer records, notes)."""
    import torch

    chosen, notes = targets(model, exclude)
    if not chosen:
        raise InputError(
            "model has no Conv2d layers to prune" + (f" (after --exclude {exclude!r})" if exclude else "")
        )
    all_scores = [scores(m.weight) for _, m in chosen]
    for (name, _), s in zip(chosen, all_scores):
        if not np.isfinite(s).all():
            raise InputError(f"{name}.weight contains NaN or Inf; magnitude pruning is undefined")
    if scope == "layer":
        cuts = [smallest(s, round(amount * s.size)) for s in all_scores]
    else:
        flat = np.concatenate(all_scores)
        picked = np.sort(smallest(flat, round(amount * flat.size)))
        bounds = np.cumsum([0] + [s.size for s in all_scores])
        cuts = [
            picked[np.searchsorted(picked, lo) : np.searchsorted(picked, hi)] - lo
            for lo, hi in zip(bounds[:-1], bounds[1:])
        ]
    records = []
    with torch.no_grad():
        for (name, module), s, cut in zip(chosen, all_scores, cuts):
            zeros_before = int(np.count_nonzero(s == 0))
            if not module.weight.data.is_contiguous():
                module.weight.data = module.weight.data.contiguous()
            flat_w = module.weight.data.view(-1)
            flat_w[torch.from_numpy(np.ascontiguousarray(cut, dtype=np.int64))] = 0
            flat_w[flat_w == 0] = 0  # -0.0 becomes +0.0, so every sparse encoding is bit-exact
            records.append(
                LayerRecord(
                    name=name,
                    shape=list(module.weight.shape),
                    numel=int(s.size),
                    dtype=str(module.weight.dtype).removeprefix("torch."),
                    target=amount,
                    pruned=int(len(cut)),
                    zeros_before=zeros_before,
                    zeros_after=int((flat_w == 0).sum()),
                )
            )
    return records, notes


def count_params(model, layers: list[LayerRecord]) -> dict[str, int]:
    """Parameter and zero counts, for the sparsity denominators the report names."""
    params = {id(p): p for p in model.parameters()}.values()  # tied parameters once
    total = sum(p.numel() for p in params)
    zeros = sum(int((p == 0).sum()) for p in params)
    return {
        "pruned_tensors_numel": sum(r.numel for r in layers),
        "pruned_tensors_zeros": sum(r.zeros_after for r in layers),
        "all_params_numel": total,
        "all_params_zeros": zeros,
    }
