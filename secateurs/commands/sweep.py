"""`secateurs sweep`: metrics and artifact sizes over a list of pruning amounts."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

import click

from secateurs.commands.options import (
    AmountList,
    eval_options,
    exclude_option,
    executor_options,
    exporter_option,
    latency_runs_option,
    model_options,
    opset_option,
    quiet_option,
    structure_options,
    task_options,
    threads_option,
)
from secateurs.config import SCOPES
from secateurs.tuning.config import SWEEP_AMOUNTS


@click.command()
@model_options
@click.option(
    "--amounts",
    default=",".join(map(str, SWEEP_AMOUNTS)),
    show_default=True,
    type=AmountList(),
    help="Comma-separated amounts in [0, 1].",
)
@click.option("--scope", type=click.Choice(SCOPES), default="layer", show_default=True)
@exclude_option
@structure_options
@eval_options(
    eval_help="Measure every amount on --eval DATA, as `run --eval` takes it (classifiers: builtin:digits,"
    " random:N, a .npz; detectors: builtin:shapes, a data.yaml, a COCO .json, a folder of images with"
    " --task detect); without it, a size-only sweep.",
    drop_help="Budget: mark amounts whose top-1 accuracy drop exceeds this (0.01 = 1 point; needs labels).",
    agreement_help="Budget: mark amounts whose top-1 agreement with the dense model is below this.",
)
@task_options(
    drop_help="Budget: mark amounts whose METRIC drops by more than VALUE (0.01 = 1 point). Repeatable."
)
@exporter_option
@opset_option
@click.option(
    "--out", type=click.Path(path_type=Path), help="Output directory [default: artifacts/<model>-sweep]."
)
@latency_runs_option(
    "Timed onnxruntime runs of each amount's model.onnx and of the dense original, interleaved,"
    " at batch 32 after 5 warm-ups (each row's latency, tradeoff.png); 0 skips them. Local only."
)
@threads_option
@executor_options
@quiet_option
def sweep(quiet, **opts):
    """Prune at each amount and tabulate sparsity, artifact sizes and every metric's delta
    (a detector: precision, recall, mAP50 and mAP50-95).

    Writes sweep.json (schema secateurs.sweep/1), sweep.md (the table), sweep.png,
    report.html and, with --eval and latency, tradeoff.png (the metric against onnxruntime
    speed-up and size) into --out. The model, data and dense outputs are loaded once. Without
    --eval the sweep is a size curve: sparsity and the bytes of every artifact.

    \b
    Examples:
      secateurs sweep builtin:resnet --eval builtin:digits --max-accuracy-drop 0.01 \\
        --amounts 0.1,0.2,0.3,0.5,0.9 --out artifacts/resnet-sweep
      secateurs sweep builtin:lenet --amounts 0.5,0.9
      secateurs sweep builtin:detector --eval builtin:shapes --max-drop mAP50=0.01 --amounts 0.1,0.2,0.3
    """
    from secateurs.commands.tuning import run_tuning
    from secateurs.report.tuning import sweep_blocks
    from secateurs.tuning.config import SweepConfig

    run_tuning(
        "sweep",
        SweepConfig,
        opts,
        quiet,
        lambda: import_module("secateurs.tuning.sweep").run_sweep,
        sweep_blocks,
    )
