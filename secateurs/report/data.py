"""The report's data: one versioned dict, written as report.json; every rendering derives from it.

The report describes what was made, so it is byte-identical across identical runs; the
wall-clock timings of a run live in manifest.json's ``run`` block, outside every hashed file.
A --recipe run records the recipe (file, default, per-layer amounts) beside the settings.
Every sparsity figure names its denominator: over the pruned Conv2d tensors, or over
every parameter of the model (what YOLOv5's ``sparsity()`` prints).
"""

from __future__ import annotations

import platform
from typing import TYPE_CHECKING

from secateurs import __version__, files

if TYPE_CHECKING:
    from secateurs.pipeline.context import RunContext

SCHEMA = "secateurs.report/1"
PERFORMANCE_NOTE = (
    "Unstructured sparsity cuts disk and download size, not onnxruntime memory or latency:"
    " onnxruntime densifies sparse weights at load and runs them dense."
)
CHANNELS_NOTE = (
    "Channel pruning removes whole filters: model.onnx is a smaller dense model, with fewer"
    " parameters and multiply-adds in any runtime; the onnxruntime latency `run` measures (unless"
    " --latency-runs 0) is in manifest.json (run.latency)."
)


def build(ctx: RunContext, status: str, sizes: dict | None) -> dict:
    """report.json's content from a run's context; ``sizes`` is the size ledger (pipeline/ledger.py)."""
    counts = ctx.param_counts
    return files.finite(
        {
            "schema": SCHEMA,
            "secateurs_version": __version__,
            "status": status,
            "config": config(ctx),
            "model": ctx.info.to_json() if ctx.info else None,
            "recipe": ctx.recipe,
            "sparsity": {
                "pruned_tensors": _ratio(
                    counts.get("pruned_tensors_zeros", 0),
                    counts.get("pruned_tensors_numel", 0),
                    f"weights of the {len(ctx.layers)} pruned Conv2d tensors",
                ),
                "all_parameters": _ratio(
                    counts.get("all_params_zeros", 0),
                    counts.get("all_params_numel", 0),
                    "every parameter of the model (conv, norm, linear, biases), as YOLOv5's sparsity()",
                ),
            },
            "layers": [layer(r, ctx.config.scope) for r in ctx.layers],
            "excluded_layers": [r.to_json() for r in ctx.excluded],
            "channels": ctx.channels,
            "finetune": ctx.finetune,
            "artifacts": [
                {
                    "name": a.name,
                    "file": a.path.name,
                    "size": a.size,
                    "description": a.description,
                    "accepted_by": a.accepted_by,
                }
                for a in ctx.artifacts.values()
                if a.path.exists()
            ],
            "sizes": sizes,
            "encodings": {k: [r.to_dict() for r in v] for k, v in ctx.encodings.items()},
            "validation": ctx.validation.to_json() if ctx.validation is not None else None,
            "evaluation": ctx.evaluation,
            "cost": ctx.cost,
            "versions": versions(),
            "performance_note": CHANNELS_NOTE if ctx.config.structure == "channels" else PERFORMANCE_NOTE,
        }
    )


def config(ctx: RunContext) -> dict:
    """The run's settings (without out: the report lives there). ``amount`` is null when a
    --recipe set every layer's amount, so it never names an amount no layer was pruned at."""
    data = ctx.config.to_json(with_out=False)
    if ctx.recipe is not None and ctx.recipe.get("unlisted_amount_from") != "--amount":
        data["amount"] = None
    return data


def layer(record, scope: str) -> dict:
    """One layer's cut; in global scope one threshold cut every layer, so it has no target of its own."""
    data = record.to_json()
    if scope == "global":
        data["target"] = None
    return data


def _ratio(zeros: int, numel: int, denominator: str) -> dict:
    return {
        "zeros": zeros,
        "numel": numel,
        "sparsity": zeros / numel if numel else 0.0,
        "denominator": denominator,
    }


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for pkg in ("torch", "onnx", "onnxruntime", "numpy"):
        try:
            found[pkg] = version(pkg)
        except PackageNotFoundError:
            found[pkg] = "not installed"
    return found
