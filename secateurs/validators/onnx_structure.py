"""Structural checks on an exported ONNX graph: the checker, mask leaks, surviving zeros."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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


def initializers(model) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def conv_weight_sources(model) -> dict[str, str]:
    """Map each Conv node's weight input to the op that produces it ('initializer' if none)."""
    producers = {out: node for node in model.graph.node for out in node.output}
    names = {t.name for t in model.graph.initializer}
    sources = {}
    for node in model.graph.node:
        if node.op_type == "Conv" and len(node.input) > 1:
            w = node.input[1]
            sources[w] = "initializer" if w in names else producers[w].op_type if w in producers else "input"
    return sources


def leaks(path: Path, model) -> Check:
    """No ``*_orig``/``*_mask`` tensors, and no Mul (a mask applied at runtime) feeding a Conv weight."""
    problems = [t.name for t in model.graph.initializer if any(s in t.name for s in LEAK_SUFFIXES)]
    problems += [f"{w} <- {op}" for w, op in conv_weight_sources(model).items() if op == "Mul"]
    if problems:
        return Check(path.name, "no prune masks leaked", False, "leaked: " + ", ".join(problems[:10]))
    return Check(path.name, "no prune masks leaked", True)


def sparsity_survives(path: Path, model, pruned: dict[str, np.ndarray]) -> Check:
    """Every pruned weight has an initializer carrying at least its zeros.

    Exporters may rename a weight or fold BatchNorm into it (scaling each output
    channel), so a layer is matched by name first, then by shape among Conv weights
    whose zero set covers the pruned one.
    """
    inits = initializers(model)
    conv_ws = [w for w in conv_weight_sources(model) if w in inits]
    unclaimed = set(conv_ws)
    missing, lossy = [], []
    for name, weight in pruned.items():
        zeros = weight == 0
        key = f"{name}.weight"
        candidates = [key] if key in inits else [w for w in conv_ws if w in unclaimed]
        match = next(
            (w for w in candidates if inits[w].shape == weight.shape and (inits[w][zeros] == 0).all()),
            None,
        )
        if match is None:
            same_shape = [w for w in candidates if inits[w].shape == weight.shape]
            (lossy if same_shape else missing).append(name)
            continue
        unclaimed.discard(match)
    if missing or lossy:
        detail = "; ".join(
            f"{label}: {', '.join(names[:8])}"
            for label, names in (("zeros lost", lossy), ("no matching initializer", missing))
            if names
        )
        return Check(path.name, "sparsity survives export", False, detail)
    return Check(
        path.name, "sparsity survives export", True, f"{len(pruned)} pruned weights found with their zeros"
    )
