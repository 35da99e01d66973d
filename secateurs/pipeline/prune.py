"""Stage 2, prune: every selected Conv2d weight by L1 magnitude (see ``secateurs.model.prune``),
or, with --structure channels, whole output channels removed (``secateurs.model.channels``)."""

from __future__ import annotations

from secateurs.errors import InputError
from secateurs.model.channels import prune_channels
from secateurs.model.conv_targets import get_param
from secateurs.model.program import save_program
from secateurs.model.prune import count_params, excluded_layers, prove_weights_used, prune_model
from secateurs.model.recipe import read_recipe
from secateurs.pipeline.context import RunContext


def run(ctx: RunContext) -> None:
    cfg = ctx.config
    amount, layer_amounts, default = cfg.amount, None, None
    if cfg.recipe is not None:
        layer_amounts, default = read_recipe(cfg.recipe)
        if default is not None:
            amount = default
    if cfg.structure == "channels":
        ctx.layers, notes = remove_channels(ctx, amount, layer_amounts)
    else:
        ctx.layers, notes = prune_model(
            ctx.model, amount, cfg.scope, cfg.exclude, cfg.allow_noop, layer_amounts=layer_amounts
        )
    ctx.info.notes.extend(notes)
    if layer_amounts is not None:
        ctx.recipe = recipe_record(str(cfg.recipe), layer_amounts, default, cfg.amount, ctx.layers)
    ctx.excluded = excluded_layers(ctx.model, cfg.exclude)
    prove_weights_used(
        ctx.model, {r.name: get_param(ctx.model, r.param) for r in ctx.layers}, ctx.info.input_shape
    )
    ctx.param_counts = count_params(ctx.model, ctx.layers)


def recipe_record(file: str, layers: dict, default: float | None, amount: float, records) -> dict:
    """What the report says about a --recipe: its file, default, per-layer amounts, and the
    pruned layers it does not list with the amount they got (its default, else --amount)."""
    unlisted = [r.name for r in records if r.name not in layers]
    return {
        "file": file,
        "default": default,
        "layers": dict(layers),
        "unlisted": unlisted,
        "unlisted_amount": (amount if default is None else default) if unlisted else None,
        "unlisted_amount_from": ("--amount" if default is None else "recipe default") if unlisted else None,
    }


PROGRAM = "model.pt2"  # the channel-pruned architecture, pickle-free (model.program.save_program)


def remove_channels(ctx: RunContext, amount: float, layer_amounts: dict | None):
    """Cut channels, then record each remaining Conv2d weight as the unstructured path does (with
    nothing zeroed: the sparse formats still encode the zeros left), and write model.pt2."""
    cfg = ctx.config
    result = prune_channels(
        ctx.model,
        ctx.info.input_shape,
        amount,
        cfg.scope,
        cfg.exclude,
        layer_amounts,
        cfg.round_to or 1,
        ctx.info.spec,
    )
    asked = amount > 0 or any(a > 0 for a in (layer_amounts or {}).values())
    if asked and result.groups == 0 and not cfg.allow_noop:
        raise InputError(
            f"{ctx.info.spec}: --structure channels removed no channel ({no_cut_reasons(result)});"
            f" {no_cut_fixes(cfg, result)}"
        )
    layers, notes = prune_model(ctx.model, 0.0, "layer", cfg.exclude, cfg.allow_noop)
    ctx.channels = {"structure": "channels", "round_to": cfg.round_to, "program": PROGRAM, **result.to_json()}
    if not save_program(ctx.model, ctx.info.input_shape, ctx.workdir / PROGRAM):
        notes.append(
            f"{PROGRAM}: the model fixes its batch, so the program takes batch {ctx.info.input_shape[0]} only"
        )
    return layers, result.notes + notes


def no_cut_fixes(cfg, result) -> str:
    """What would make the cut remove channels, for the settings the run has."""
    rounded = any(str(r["kept"]).startswith("--round-to") for r in result.layers)
    if cfg.recipe is not None:
        fixes = ["a recipe measured with a lower --round-to"] if rounded else ["larger amounts in the recipe"]
    else:
        fixes = ["lower --round-to"] if rounded else []
        if any(r["kept"] in ("amount rounds to no channel", "amount 0") for r in result.layers):
            fixes.insert(0, "raise --amount")
    allow = "pass --allow-noop to keep the model whole"
    return f"{', '.join(fixes)}, or {allow}" if fixes else allow


def no_cut_reasons(result) -> str:
    """Why every Conv2d kept its channels, counted: "3 layers: amount rounds to no channel, ..."."""
    reasons: dict[str, int] = {}
    for row in result.layers:
        if row["kind"] == "Conv2d" and row["kept"]:
            reasons[row["kept"]] = reasons.get(row["kept"], 0) + 1
    return (
        "; ".join(f"{n} layer{'s' if n > 1 else ''}: {why}" for why, n in reasons.items())
        or "no layer to cut"
    )
