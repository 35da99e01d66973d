"""`secateurs sensitivity`: per-layer drop at several amounts, and a recipe within a budget."""

from __future__ import annotations

from pathlib import Path

import click

from secateurs.commands.options import AmountList, default_out, model_options, quiet_option


@click.command("sensitivity")
@model_options
@click.option(
    "--eval", "eval_spec", required=True, metavar="DATA", help="builtin:digits, random:N or a .npz."
)
@click.option(
    "--amounts",
    type=AmountList(),
    default="0.25,0.5,0.75,0.9",
    show_default=True,
    help="Amounts to try per layer.",
)
@click.option("--exclude", metavar="REGEX", help="Skip Conv2d modules whose name matches REGEX.")
@click.option(
    "--budget",
    type=float,
    help="Max metric drop (0.01 = 1 point); writes recipe.json, verified on the data, for `run --recipe`.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Output directory [default: artifacts/<model>-sensitivity].",
)
@quiet_option
def sensitivity(
    model, weights, input_shape, trust_model_code, eval_spec, amounts, exclude, budget, out, quiet
):
    """Prune one Conv2d layer at a time at each amount and measure the drop on DATA.

    The drop is the accuracy drop with labelled data, else 1 - top-1 agreement with the
    dense model. Writes sensitivity.json and a heat-map sensitivity.png; with --budget
    also recipe.json (per-layer amounts whose combined drop was measured within the
    budget) and compares it with the largest uniform amount within the same budget.

    \b
    Examples:
      secateurs sensitivity builtin:resnet --eval builtin:digits
      secateurs sensitivity builtin:resnet --eval builtin:digits --budget 0.01
      secateurs run builtin:resnet --recipe artifacts/resnet-sensitivity/recipe.json
    """
    from secateurs import files
    from secateurs.report import html, terminal
    from secateurs.report.tuning import plots_page, sensitivity_blocks
    from secateurs.tuning.sensitivity import run_sensitivity

    out = out or default_out(model, "-sensitivity")
    files.check_out_dir(out)
    with files.staged(out) as stage:
        data = run_sensitivity(
            model, eval_spec, stage, amounts, budget, weights, input_shape, trust_model_code, exclude
        )
        blocks = sensitivity_blocks(data)
        png = stage / "sensitivity.png"
        page = plots_page(f"secateurs sensitivity: {model}", blocks, {png.name: png.read_bytes()})
        files.write_text(stage / "report.html", html.render(page))
    if not quiet:
        click.echo(terminal.body(blocks))
    click.echo(f"secateurs: wrote {out}", err=True)
