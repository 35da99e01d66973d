"""Stage 1, load: the model named by the run's settings (see ``secateurs.model.load``)."""

from __future__ import annotations

from secateurs.model.load import load_model
from secateurs.pipeline.context import RunContext


def run(ctx: RunContext) -> None:
    cfg = ctx.config
    ctx.model, ctx.info = load_model(cfg.model, cfg.weights, cfg.input_shape, cfg.trust_model_code)
