"""Structural checks on an exported ONNX graph: the checker, mask leaks, surviving zeros."""

from __future__ import annotations

from pathlib import Path

from secateurs.validators.pruned_map import PrunedMatch, conv_weight_sources
from secateurs.validators.results import Check

LEAK_SUFFIXES = ("_orig", "_mask")


def checker(path: Path, full_check: bool = True) -> Check:
    """``onnx.checker.check_model`` on the file path, so >2 GB models with external data work."""
    import onnx

    label = "onnx.checker (full_check)" if full_check else "onnx.checker"
    try:
        onnx.checker.check_model(str(path), full_check=full_check)
    except Exception as e:  # checker raises ValidationError, InferenceError, ...
        return Check(path.name, label, False, f"{type(e).__name__}: {str(e).splitlines()[0][:300]}")
    return Check(path.name, label, True)


def leaks(path: Path, model) -> Check:
    """No ``*_orig``/``*_mask`` tensors, and no Mul (a mask applied at runtime) feeding a Conv weight."""
    # torch.nn.utils.prune names its state <param>_orig / <param>_mask: judge the last dotted
    # part only, so a layer called `seg_mask` or a path through `_orig_mod` is not a leak
    problems = [t.name for t in model.graph.initializer if t.name.split(".")[-1].endswith(LEAK_SUFFIXES)]
    problems += [f"{w} <- {op}" for w, op in conv_weight_sources(model).items() if op == "Mul"]
    if problems:
        return Check(path.name, "no prune masks leaked", False, "leaked: " + ", ".join(problems[:10]))
    return Check(path.name, "no prune masks leaked", True)


def sparsity_survives(
    path: Path, found: PrunedMatch, n_pruned: int, changed: list[str] = (), n_zeros: int | None = None
) -> Check:
    """Every pruned weight has an initializer carrying at least its zeros (see pruned_map).

    ``changed`` names layers whose weight no longer holds the zeros counted at prune time
    (something rewrote it since): their match would prove nothing, so they fail.
    """
    if n_pruned == 0:
        return Check.not_applicable(path.name, "sparsity survives export", "no pruned weights to find")
    if n_zeros == 0 and not changed:
        return Check.not_applicable(
            path.name, "sparsity survives export", f"the {n_pruned} pruned weights hold no zero to survive"
        )
    if found.missing or found.lossy or changed:
        detail = "; ".join(
            f"{label}: {', '.join(names[:8])}"
            for label, names in (
                ("weight no longer holds the zeros counted at prune time", list(changed)),
                ("zeros lost", found.lossy),
                ("no matching initializer", found.missing),
            )
            if names
        )
        return Check(path.name, "sparsity survives export", False, detail)
    return Check(
        path.name, "sparsity survives export", True, f"{n_pruned} pruned weights found with their zeros"
    )
