"""`run`: every stage on MODEL, with --auto to choose the amount within an accuracy budget."""

from __future__ import annotations

import click

from secateurs.commands import verdict
from secateurs.commands.common import config_from, execute_concluded, finish, progress_printer
from secateurs.commands.options import (
    eval_options,
    export_options,
    finetune_options,
    junit_option,
    latency_runs_option,
    model_options,
    out_option,
    prune_options,
    quiet_option,
    structure_options,
    task_options,
    threads_option,
    validate_options,
)
from secateurs.config import RunConfig
from secateurs.errors import UsageError


@click.command()
@model_options
@prune_options
@structure_options
@finetune_options
@export_options
@validate_options
@eval_options
@task_options
@out_option
@quiet_option
@threads_option
@junit_option
@click.option(
    "--auto",
    is_flag=True,
    help="Choose --amount: the largest uniform amount within every budget (--max-drop,"
    " --max-accuracy-drop, --min-agreement) on --eval DATA (bisection on PyTorch, resolution 0.01),"
    " then run at it.",
)
@latency_runs_option(
    "Timed onnxruntime runs per artifact and batch (the input's and 32) after 5 warm-ups, the"
    " dense original as the denominator (manifest.json run.latency); 0 skips the latency measurement."
)
def run(quiet, auto, junit, **opts):
    """Run every stage on MODEL: load, prune, export, validate, report.

    MODEL is builtin:NAME, package.module:factory, or a model file (.pt2; TorchScript or
    a pickled nn.Module with --trust-model-code). Artifacts are staged and moved into
    --out only when every check passes; on a failed validation they go to <out>.failed/
    and a previous <out> is left untouched.

    \b
    Examples:
      secateurs run builtin:resnet --amount 0.3 --out artifacts/demo
      secateurs run builtin:lenet --amount 0.5 --scope global --exporter torchscript
      secateurs run builtin:resnet --structure channels --amount 0.3 --round-to 4
      secateurs run mypkg.models:make_net --weights net.pt --input-shape 1,3,64,64 --exclude '^stem'
      secateurs run exported.pt2 --dynamic-hw
      secateurs run builtin:detector --eval builtin:shapes --max-drop mAP50=0.01 --max-drop recall=0.02
    """
    verdict.start_clock()
    cfg = config_from(opts)  # every option checked before torch is imported or the model loads

    from secateurs.pipeline.runner import run_stages

    notes = ()
    if auto:
        from secateurs.threads import apply

        apply(cfg.threads)  # the bisection runs before execute() sets them
        cfg, notes = choose_amount(cfg, quiet)
    ctx, data = execute_concluded(
        cfg, run_stages(cfg), junit, quiet, progress=progress_printer(quiet), notes=notes
    )
    finish(ctx, data, quiet)


def choose_amount(cfg: RunConfig, quiet: bool) -> tuple[RunConfig, tuple[str, ...]]:
    """--auto: bisect on the PyTorch model, then the normal run re-checks the gate on model.onnx."""
    from dataclasses import replace

    from secateurs.tuning.sweep import auto_amount_for

    source = click.get_current_context().get_parameter_source("amount")
    if source is click.core.ParameterSource.DEFAULT_MAP:
        raise UsageError(f"--auto chooses the amount itself; remove amount from {cfg.settings_file}")
    if source is not click.core.ParameterSource.DEFAULT:
        raise UsageError("--auto chooses the amount itself; drop --amount")
    amount, probes = auto_amount_for(cfg)
    note = f"--auto chose amount {amount}: largest within the budget, {len(probes)} probes, resolution 0.01"
    progress_printer(quiet)(note)
    return replace(cfg, amount=amount), (note,)
