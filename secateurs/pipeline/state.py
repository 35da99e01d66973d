"""The stage state: what one stage hands the next, kept apart from the user-facing artifacts.

Every run writes ``state/state.json`` (schema ``secateurs.state/1``) into its output
directory, whatever ``--formats`` says, and the split stage commands (``export``,
``validate``, ``report``) resume from it, never from report.json's presentation fields. It
holds the settings, the model's facts, each layer's cut (and the recipe that set the
amounts), the parameter counts, the artifacts written, their encodings, the validation and
evaluation results, and where the pruned weights are: ``pruned.safetensors`` when that artifact was written, else
``state/pruned.safetensors``, so a run with ``--formats onnx`` can still be validated later.
A channel-pruned model no longer fits its factory's state_dict: ``channels.program`` names the
model.pt2 the later stages load it from instead.
No timings or paths outside the directory: two identical runs write identical state.
"""

from __future__ import annotations

from pathlib import Path

from secateurs import files
from secateurs.exporters.safetensors_weights_torch import save_state_dict

DIRNAME = "state"
FILENAME = "state.json"
SCHEMA = "secateurs.state/1"
WEIGHTS = "pruned.safetensors"


def path(directory: Path) -> Path:
    return directory / DIRNAME / FILENAME


def weights_file(ctx) -> str:
    """The pruned weights' path relative to the run directory."""
    return WEIGHTS if "safetensors" in ctx.artifacts else f"{DIRNAME}/{WEIGHTS}"


def write(ctx) -> None:
    """Write the state of ``ctx`` into its work directory (and the weights when no artifact holds them)."""
    folder = ctx.workdir / DIRNAME  # inside the run's staging directory: promoted whole, or not at all
    folder.mkdir(exist_ok=True)
    own_weights = folder / WEIGHTS
    weights = weights_file(ctx) if ctx.model is not None else None
    if weights == WEIGHTS or weights is None:
        own_weights.unlink(missing_ok=True)
    else:  # write beside, then rename: a resumed run hard-links the old file in, never modify it
        tmp = folder / f".{WEIGHTS}.tmp"
        save_state_dict(ctx.model, tmp, {"secateurs.model": ctx.info.spec})
        tmp.replace(own_weights)
    files.write_json(path(ctx.workdir), to_json(ctx, weights))


def to_json(ctx, weights: str | None) -> dict:
    return {
        "schema": SCHEMA,
        "config": ctx.config.to_json(with_out=False),
        "model": ctx.info.to_json() if ctx.info else None,
        "layers": [r.to_json() for r in ctx.layers],
        "recipe": ctx.recipe,
        "excluded": [r.to_json() for r in ctx.excluded],
        "param_counts": dict(ctx.param_counts),
        "channels": ctx.channels,
        "weights": weights,
        "artifacts": [
            {"name": a.name, "file": a.path.name, "description": a.description, "accepted_by": a.accepted_by}
            for a in ctx.artifacts.values()
        ],
        "encodings": {k: [r.to_dict() for r in v] for k, v in ctx.encodings.items()},
        "validation": ctx.validation.to_json() if ctx.validation is not None else None,
        "evaluation": ctx.evaluation,
        "finetune": ctx.finetune,
        "cost": ctx.cost,
    }


def read(directory: Path) -> dict:
    """The state an earlier command left in ``directory``; InputError says which command to run."""
    return files.read_json(
        path(directory), SCHEMA, "stage state", f"run `secateurs prune` (or `run`) into {directory} first"
    )
