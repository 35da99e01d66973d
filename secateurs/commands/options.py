"""Click options shared by every command, so each flag is defined and validated once."""

from __future__ import annotations

import math
from pathlib import Path

import click

from secateurs import exporters
from secateurs.config import (
    BOX_FORMATS,
    DEFAULT_ATOL,
    DEFAULT_FORMATS,
    DEFAULT_RTOL,
    EXPORTERS,
    SCOPES,
    STRUCTURES,
    TASKS,
    parse_shape,
)
from secateurs.errors import SecateursError, UsageError
from secateurs.exporters.common.opsets import DEFAULT_OPSET


class Amount(click.ParamType):
    """A float in [0, 1]; NaN, inf and out-of-range values are usage errors (exit 2)."""

    name = "FLOAT"

    def convert(self, value, param, ctx):
        try:
            amount = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number in [0, 1]", param, ctx)
        if not math.isfinite(amount) or not 0.0 <= amount <= 1.0:
            self.fail(f"{value!r} is not a number in [0, 1]", param, ctx)
        return amount


class Shape(click.ParamType):
    name = "N,C,H,W"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            return parse_shape(value)
        except SecateursError as e:
            self.fail(str(e), param, ctx)


class AmountList(click.ParamType):
    """'0.1,0.5,0.9' -> sorted unique amounts, each a number in [0, 1]."""

    name = "A,B,..."

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        return tuple(
            sorted({Amount().convert(part.strip(), param, ctx) for part in value.split(",") if part.strip()})
        )


class Provider(click.ParamType):
    """An onnxruntime execution provider, short ('cuda') or full ('CUDAExecutionProvider')."""

    name = "NAME"

    def convert(self, value, param, ctx):
        from secateurs.validators.providers import resolve

        try:
            return resolve(value)
        except SecateursError as e:
            self.fail(str(e).removeprefix(f"--provider {value}: "), param, ctx)


def provider_option(f, default: str | None = "cpu"):
    return click.option(
        "--provider",
        type=Provider(),
        default=default,
        show_default=default is not None,
        help="onnxruntime execution provider: cpu, cuda, tensorrt, rocm, dml, coreml, openvino or a full"
        " name. Accelerators are judged with 10x the CPU tolerances (both are recorded).",
    )(f)


def threads_option(f, pools: str = "torch and onnxruntime"):
    """--threads N (secateurs.threads.apply; secateurs.cpus on the torch-free side)."""
    return click.option(
        "--threads",
        type=click.IntRange(min=1),
        metavar="N",
        help=f"Threads for {pools} [default: the CPUs this process may use,"
        " by its CPU affinity and cgroup quota].",
    )(f)


def quiet_option(f):
    """--quiet: no progress lines, bars or summary table."""
    return click.option("--quiet", "-q", is_flag=True, help="No progress lines, bars or summary table.")(f)


def model_options(f):
    f = click.option(
        "--weights",
        type=click.Path(path_type=Path, dir_okay=False),
        help="state_dict to load strictly (.pt/.pth with weights_only=True, or .safetensors).",
    )(f)
    f = click.option(
        "--input-shape",
        type=Shape(),
        help="Example input shape, e.g. 1,3,224,224. Required unless the model declares input_shape.",
    )(f)
    f = click.option(
        "--trust-model-code",
        is_flag=True,
        help="Allow TorchScript archives and pickled nn.Module files, which run code when loaded.",
    )(f)
    return click.argument("model")(f)


def prune_options(f):
    f = click.option(
        "--amount",
        type=Amount(),
        default=0.3,
        show_default=True,
        help="Fraction in [0, 1] of each Conv2d weight to zero (with --structure channels: of its"
        " output channels to remove).",
    )(f)
    f = click.option(
        "--scope",
        type=click.Choice(SCOPES),
        default="layer",
        show_default=True,
        help="layer: round(amount*numel) per tensor (YOLOv5); global: one threshold over all Conv2d weights.",
    )(f)
    f = click.option(
        "--allow-noop",
        is_flag=True,
        help="A model without Conv2d (or a channel cut that removes no channel) is exported and"
        " validated unpruned instead of refused.",
    )(f)
    f = click.option(
        "--recipe",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Per-layer amounts (recipe.json from `secateurs sensitivity --max-accuracy-drop`); unlisted"
        " layers use the recipe's default, else --amount (giving both is refused).",
    )(f)
    return exclude_option(f)


def structure_options(f):
    """--structure and --round-to (run, prune, sweep, sensitivity)."""
    f = click.option(
        "--structure",
        type=click.Choice(STRUCTURES),
        default="unstructured",
        show_default=True,
        help="unstructured: zero single weights (smaller files, same compute); channels: remove whole"
        " Conv2d output channels, lowest L1 first, and everything coupled to them (a smaller dense model).",
    )(f)
    return click.option(
        "--round-to",
        type=int,
        metavar="N",
        help="With --structure channels: keep each pruned layer's channel count a multiple of N"
        " [default: 8; onnxruntime's CPU convolutions run odd counts slowly, 1 keeps the amount exact].",
    )(f)


def finetune_options(f):
    """--finetune EPOCHS (with --finetune-data, --finetune-lr) or --finetune-fn (run and prune)."""
    f = click.option(
        "--finetune",
        type=click.IntRange(min=1),
        metavar="EPOCHS",
        help="Recovery fine-tuning after pruning, before export: EPOCHS of Adam (cosine LR, seeded,"
        " deterministic) on labelled training data; unstructured zeros stay zeros.",
    )(f)
    f = click.option(
        "--finetune-data",
        metavar="DATA",
        help="Training data for --finetune: a .npz with 'inputs' and 'labels', or builtin:digits /"
        " builtin:shapes (their train splits) [default: the train split of a builtin --eval; a user's"
        " --eval data is held out and never trained on].",
    )(f)
    f = click.option("--finetune-lr", type=float, help="Learning rate of --finetune [default: 0.001].")(f)
    return click.option(
        "--finetune-fn",
        metavar="MODULE:FUNCTION",
        help="Your own fine-tuning: FUNCTION(model) gets the pruned torch.nn.Module and returns it"
        " trained (same parameters); unstructured zeros it revives are zeroed again and counted.",
    )(f)


def exclude_option(f):
    # multiple=True only to catch a repeated flag (click keeps the last one silently): one_exclude
    return click.option(
        "--exclude",
        metavar="REGEX",
        multiple=True,
        help="Skip Conv2d modules whose name matches REGEX (re.search); give one regex, e.g. '^stem|head'.",
    )(f)


def one_exclude(value) -> str | None:
    """--exclude's value: None, one pattern, or (repeated on the command line) a usage error
    that says how to give several, instead of silently keeping only the last."""
    if value is None or isinstance(value, str):
        return value
    patterns = list(value)
    if len(patterns) > 1:
        joined = "|".join(patterns)
        raise UsageError(
            f"--exclude given {len(patterns)} times; give one regular expression: --exclude '{joined}'"
        )
    return patterns[0] if patterns else None


def opset_option(f, defaults: bool = True):
    return click.option(
        "--opset",
        type=int,
        default=DEFAULT_OPSET if defaults else None,
        show_default=defaults,
        help="ai.onnx opset of model.onnx: 18 to onnx's newest with dynamo, 7 to 20 with torchscript.",
    )(f)


def exporter_option(f, defaults: bool = True):
    return click.option(
        "--exporter",
        type=click.Choice(EXPORTERS),
        default="auto" if defaults else None,
        show_default=defaults,
        help="torch.onnx exporter. auto: dynamo (torch.export, the supported path), or torchscript"
        " for TorchScript archives; torchscript: the legacy exporter, ~10x faster.",
    )(f)


def export_options(f, defaults: bool = True):
    f = opset_option(f, defaults)
    f = exporter_option(f, defaults)
    f = click.option(
        "--dynamic-hw",
        is_flag=True,
        default=None,
        help="Also make height and width dynamic (fails, exit 4, where the model fixes them).",
    )(f)
    f = click.option(
        "--external-data",
        is_flag=True,
        default=None,
        hidden=True,
        envvar="SECATEURS_FORCE_EXTERNAL_DATA",
        help="Write tensors to model.onnx.data even below 2 GB (for testing the >2 GB path).",
    )(f)
    f = click.option(
        "--onnx-strict",
        is_flag=True,
        default=None,
        help="model.sparse.onnx: int64 indices only (what onnx.checker accepts), not the narrowest type.",
    )(f)
    return click.option(
        "--formats",
        metavar="NAMES",
        default=",".join(DEFAULT_FORMATS) if defaults else None,
        show_default=defaults,
        help=f"Comma-separated artifact formats: {', '.join(exporters.names())}. The default leaves out"
        " bitmask-onnx: smaller on disk, but creating its onnxruntime session takes about 3x the memory of"
        " model.onnx's (ResNet-50: 1.0 GiB against 0.3 GiB).",
    )(f)


def validate_options(f, defaults: bool = True):
    f = provider_option(f, "cpu" if defaults else None)
    f = click.option(
        "--atol",
        type=float,
        default=DEFAULT_ATOL if defaults else None,
        show_default=defaults,
        help="Absolute tolerance for ONNX vs PyTorch outputs (on the CPU provider).",
    )(f)
    return click.option(
        "--rtol",
        type=float,
        default=DEFAULT_RTOL if defaults else None,
        show_default=defaults,
        help="Relative tolerance: an element fails where |a-b| > atol + rtol*|b|.",
    )(f)


def eval_options(
    f=None,
    *,
    eval_help: str = "Evaluate dense vs pruned (PyTorch and model.onnx). Classifiers: builtin:digits,"
    " random:N or a .npz with 'inputs' (and 'labels'). Detectors: builtin:shapes, an ultralytics"
    " data.yaml, a folder with images/ and labels/, a COCO annotations .json, or a folder of images"
    " (label-free, with --task detect).",
    drop_help: str = "Fail (exit 6) if top-1 accuracy drops by more than this (absolute, 0.01 = 1 point).",
    agreement_help: str = "Fail (exit 6) if top-1 agreement with the dense model is below this (e.g. 0.99).",
):
    """--eval DATA and the two budgets, with what they do in this command; usable bare or called."""
    if f is None:
        return lambda g: eval_options(
            g, eval_help=eval_help, drop_help=drop_help, agreement_help=agreement_help
        )
    f = click.option("--eval", "eval", metavar="DATA", help=eval_help)(f)
    f = click.option("--max-accuracy-drop", type=float, help=drop_help)(f)
    return click.option("--min-agreement", type=float, help=agreement_help)(f)


MAX_DROP_HELP = (
    "Fail (exit 6) if METRIC drops by more than VALUE (absolute, 0.01 = 1 point), pruned against"
    " dense, in PyTorch or in model.onnx. Repeatable."
)


def task_options(f=None, *, drop_help: str = MAX_DROP_HELP):
    """--task, --box-format and --max-drop: what the --eval data is, and budgets on any metric;
    usable bare or called with what --max-drop does in this command."""
    if f is None:
        return lambda g: task_options(g, drop_help=drop_help)
    f = click.option(
        "--task",
        type=click.Choice(TASKS),
        help="What --eval evaluates [default: from the data: builtin:shapes, a data.yaml, a COCO .json"
        " or a folder with images/ and labels/ is detect; builtin:digits, a .npz or random:N classify]."
        " A folder of images alone (label-free detection) needs --task detect.",
    )(f)
    f = click.option(
        "--box-format",
        type=click.Choice(BOX_FORMATS),
        help="Detector output layout: yolov5 (B, N, 5+nc) with objectness, or yolov8 (B, 4+nc, N)"
        " [default: from the output's shape; asked for only when it is ambiguous].",
    )(f)
    return click.option(
        "--max-drop",
        "max_drop",
        metavar="METRIC=VALUE",
        multiple=True,
        help=f"{drop_help} detect: precision, recall, mAP50, mAP50-95; classify: accuracy, precision,"
        " recall (macro).",
    )(f)


def out_option(f):
    return click.option(
        "--out",
        type=click.Path(path_type=Path),
        help="Output directory [default: artifacts/<model>: builtin:NAME -> NAME, a file -> its stem,"
        " module:factory -> module.factory].",
    )(f)


def default_out(model: str, suffix: str = "") -> Path:
    """artifacts/<name><suffix>, one name per model: builtin:resnet -> resnet, a file -> its
    stem, package.module:factory -> package.module.factory (the module is part of it, so
    factories that share a name, such as `build` or `model`, do not overwrite each other)."""
    if model.startswith("builtin:"):
        name = model.split(":", 1)[1]
    elif ":" in model and not Path(model).exists():
        name = model.replace(":", ".")
    else:
        name = Path(model).stem
    return Path("artifacts") / f"{name or 'model'}{suffix}"


def formats_tuple(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))


junit_option = click.option(
    "--junit",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write every check (and accuracy gate) as JUnit XML to FILE, whether they pass or fail.",
)


def executor_options(f):
    """--executor local|ray and --ray-address (secateurs.executors; Ray is imported only when chosen)."""
    f = click.option(
        "--ray-address",
        metavar="ADDRESS",
        help="With --executor ray: the cluster to connect to, e.g. 10.0.0.1:6379"
        " [default: $RAY_ADDRESS, else a local Ray instance started for this command].",
    )(f)
    return click.option(
        "--executor",
        type=click.Choice(("local", "ray")),
        default="local",
        show_default=True,
        help="Where the work runs: `local`, one item after another in this process, or `ray`, each"
        " item a Ray task of --threads threads (default 1 there) with the model and data shared"
        " through Ray's object store; needs the extra: pip install 'secateurs[ray]'.",
    )(f)


def latency_runs_option(help_text: str):
    """--latency-runs N (run, sweep): timed onnxruntime runs against the dense original."""
    return click.option(
        "--latency-runs",
        type=click.IntRange(min=0),
        default=30,
        show_default=True,
        metavar="N",
        help=help_text,
    )
