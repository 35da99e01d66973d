"""Prune: zero the smallest-|w| Conv2d weights, permanently.

Three concerns stay apart:
  score   - L1 magnitude |w| (``scores``);
  select  - how many to cut and where: round(amount * numel) per tensor (``layer``
            scope, as ``torch.nn.utils.prune.l1_unstructured``) or one count over all
            targets (``global`` scope, as ``prune.global_unstructured``);
  apply   - write zeros into the plain ``weight`` tensor in place.
No masks, hooks, ``_orig`` copies or parametrizations are left behind, and one forward
pass proves each pruned conv really receives its zeroed weight (``model.conv_calls``).
"""

from __future__ import annotations

import numpy as np
import torch

from secateurs.errors import InputError, UsageError
from secateurs.model.conv_calls import check_pruned_weights_used
from secateurs.model.conv_targets import find_conv_weights, get_param, partition_convs
from secateurs.model.plain import make_plain
from secateurs.model.records import LayerRecord


def prove_weights_used(model, params: dict, input_shape: tuple[int, ...]) -> None:
    """One seeded forward pass proves each weight in ``params`` (layer -> tensor) is what its
    convolution receives; InputError (exit 3) names a layer that transforms it instead."""
    example = torch.randn(*input_shape, generator=torch.Generator().manual_seed(0))
    check_pruned_weights_used(model, params, example)


def scores(weight) -> np.ndarray:
    """L1 magnitude as a flat numpy array; float16/bfloat16 are widened exactly."""
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


def prune_model(
    model,
    amount: float,
    scope: str = "layer",
    exclude: str | None = None,
    allow_noop: bool = False,
    layer_amounts: dict[str, float] | None = None,
):
    """Prune every selected Conv2d in place; return (per-layer records, notes).

    ``layer_amounts`` (a recipe, layer scope only) gives listed layers their own amount;
    the rest get ``amount``. A name that is not a selected conv layer is an error, so a
    stale recipe or a typo never leaves a layer silently unpruned.
    """
    notes = make_plain(model)  # a no-op on models from load_model, which made them plain already
    chosen, found_notes = find_conv_weights(model, exclude)
    notes += found_notes
    if layer_amounts is not None:
        if scope != "layer":
            raise UsageError(f"a per-layer recipe needs --scope layer, got --scope {scope}")
        unknown = sorted(set(layer_amounts) - {c.layer for c in chosen})
        if unknown:
            raise UsageError(
                "recipe names layers that are not prunable Conv2d layers"
                + (f" (after --exclude {exclude!r})" if exclude else "")
                + f": {', '.join(unknown)}"
            )
    targets = [layer_amounts.get(c.layer, amount) if layer_amounts else amount for c in chosen]
    if not chosen:
        if allow_noop:
            return [], notes + ["no Conv2d weights found; nothing pruned (--allow-noop)"]
        raise InputError(
            "model has no Conv2d layers to prune"
            + (f" (after --exclude {exclude!r})" if exclude else "")
            + "; pass --allow-noop to export and validate it unpruned"
        )
    all_scores = [scores(c.weight) for c in chosen]
    for c, s in zip(chosen, all_scores):
        if not np.isfinite(s).all():
            raise InputError(f"{c.param} contains NaN or Inf; magnitude pruning is undefined")
    if scope == "layer":
        cuts = [smallest(s, round(a * s.size)) for s, a in zip(all_scores, targets)]
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
        for c, s, cut, target in zip(chosen, all_scores, cuts, targets):
            w = c.weight
            if not w.data.is_contiguous():
                w.data = w.data.contiguous()
            flat_w = w.data.view(-1)
            flat_w[torch.from_numpy(np.ascontiguousarray(cut, dtype=np.int64))] = 0
            flat_w[flat_w == 0] = 0  # -0.0 becomes +0.0, so every sparse encoding is bit-exact
            records.append(
                LayerRecord(
                    name=c.layer,
                    param=c.param,
                    shape=list(w.shape),
                    numel=int(s.size),
                    dtype=str(w.dtype).removeprefix("torch."),
                    target=target,
                    pruned=int(len(cut)),
                    zeros_before=int(np.count_nonzero(s == 0)),
                    zeros_after=int((flat_w == 0).sum()),
                )
            )
    return records, notes


def excluded_layers(model, exclude: str | None) -> list[LayerRecord]:
    """A record of each Conv2d layer ``--exclude`` kept out of pruning, as it stands now
    (target 0, nothing selected), so the report lists it as excluded rather than not at all.
    A layer whose weight the graph computes has no stored tensor: it is listed shapeless."""
    if not exclude:
        return []
    records = []
    for layer, param in partition_convs(model, exclude)[1]:
        w = get_param(model, param).detach() if param is not None else None
        zeros = int((w == 0).sum()) if w is not None else 0
        records.append(
            LayerRecord(
                name=layer,
                param=param or "",
                shape=list(w.shape) if w is not None else [],
                numel=int(w.numel()) if w is not None else 0,
                dtype=str(w.dtype).removeprefix("torch.") if w is not None else "",
                target=0.0,
                pruned=0,
                zeros_before=zeros,
                zeros_after=zeros,
            )
        )
    return records


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
