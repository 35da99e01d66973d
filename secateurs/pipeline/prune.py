"""Stage 2, prune: every selected Conv2d weight by L1 magnitude (see ``secateurs.model.prune``)."""

from __future__ import annotations

from secateurs.model.conv_targets import get_param
from secateurs.model.prune import count_params, excluded_layers, prove_weights_used, prune_model
from secateurs.pipeline.context import RunContext


def run(ctx: RunContext) -> None:
    cfg = ctx.config
    amount, layer_amounts = cfg.amount, None
    if cfg.recipe is not None:
        from secateurs.model.recipe import read_recipe

        layer_amounts, default = read_recipe(cfg.recipe)
        if default is not None:
            amount = default
            ctx.info.notes.append(f"recipe {cfg.recipe.name}: unlisted layers use its default {default}")
    ctx.layers, notes = prune_model(
        ctx.model, amount, cfg.scope, cfg.exclude, cfg.allow_noop, layer_amounts=layer_amounts
    )
    ctx.info.notes.extend(notes)
    ctx.excluded = excluded_layers(ctx.model, cfg.exclude)
    prove_weights_used(
        ctx.model, {r.name: get_param(ctx.model, r.param) for r in ctx.layers}, ctx.info.input_shape
    )
    ctx.param_counts = count_params(ctx.model, ctx.layers)
