"""The one frozen set of settings for a run. The CLI builds it; nothing below reads click or os.environ."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from secateurs import cpus, exporters
from secateurs.errors import UsageError
from secateurs.exporters.common.opsets import DEFAULT_OPSET, check_opset

SCOPES = ("layer", "global")
STRUCTURES = ("unstructured", "channels")  # zero single weights, or remove whole Conv2d channels
EXPORTERS = ("auto", "dynamo", "torchscript")
RUNTIME_ONLY = ("threads", "latency_runs")  # settings kept out of report.json and state.json (see to_json)
DEFAULT_FORMATS = exporters.default_names()  # in their declared order

# ORT vs PyTorch on float32 CNN outputs differs by ~1e-6; BatchNorm folding and
# reordered reductions stay well inside these.
DEFAULT_ATOL = 1e-4
DEFAULT_RTOL = 1e-3

ALL_STAGES = (
    "load",
    "reference",
    "prune",
    "finetune",
    "export",
    "validate",
    "evaluate",
)  # pipeline.runner's names
EVAL_BUILTINS = ("builtin:digits", "builtin:shapes")
BUILTIN_MODELS = ("detector", "lenet", "resnet")  # secateurs.models.BUILTINS' names, without torch
TASKS = ("classify", "detect")
BOX_FORMATS = ("yolov5", "yolov8")  # detector output layouts (secateurs.evaluation.boxes)
# --max-drop METRIC=VALUE: the metrics each task can gate on (drops are absolute fractions).
DROP_METRICS = {
    "classify": ("accuracy", "precision", "recall"),
    "detect": ("precision", "recall", "mAP50", "mAP50-95"),
}
EVAL_RANDOM = re.compile(r"^random:(\d+)$")
MAX_RANDOM = 100_000


@dataclass(frozen=True)
class RunConfig:
    model: str
    out: Path
    weights: Path | None = None
    input_shape: tuple[int, ...] | None = None
    amount: float = 0.3
    scope: str = "layer"
    structure: str = "unstructured"
    round_to: int | None = None  # --structure channels: keep channel counts multiples of this
    exclude: str | None = None
    exporter: str = "auto"
    formats: tuple[str, ...] = DEFAULT_FORMATS
    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL
    onnx_strict: bool = False
    trust_model_code: bool = False
    allow_noop: bool = False
    dynamic_hw: bool = False
    external_data: bool = False
    eval: str | None = None  # builtin:digits, builtin:shapes, random:N, a .npz, detection data
    task: str | None = None  # classify or detect; None: from the --eval data (eval_task)
    box_format: str | None = None  # yolov5 or yolov8 output layout; None: from the output's shape
    max_drop: tuple[tuple[str, float], ...] = ()  # (metric, largest allowed drop), --max-drop
    max_accuracy_drop: float | None = None  # absolute, e.g. 0.01 = one point
    min_agreement: float | None = None  # top-1 agreement with the dense model
    seed: int = 0
    finetune: int | None = None  # recovery fine-tuning epochs after pruning (secateurs.finetune)
    finetune_data: str | None = None  # its labelled training data; None: the --eval builtin's train split
    finetune_lr: float = 1e-3
    finetune_fn: str | None = None  # module:function that trains the pruned model itself
    provider: str = "CPUExecutionProvider"  # onnxruntime execution provider for validation
    recipe: Path | None = None  # per-layer amounts (secateurs.recipe/1), layer scope only
    opset: int = DEFAULT_OPSET  # ai.onnx opset of model.onnx (and the formats derived from it)
    threads: int | None = None  # torch and onnxruntime threads; None: the usable CPUs (secateurs.cpus)
    latency_runs: int = 30  # timed onnxruntime runs per artifact and batch in the cost stage; 0: none
    settings_file: str | None = None  # secateurs.toml or pyproject.toml used, relative to the cwd
    settings_from_file: tuple[str, ...] = ()  # the fields above whose value came from it

    def __post_init__(self) -> None:
        check_amount(self.amount)
        check_opset(self.opset, self.exporter)
        if self.threads is not None:
            cpus.check(self.threads)
        if (
            isinstance(self.latency_runs, bool)
            or not isinstance(self.latency_runs, int)
            or self.latency_runs < 0
        ):
            raise UsageError(f"--latency-runs must be an integer >= 0, got {self.latency_runs!r}")
        if self.scope not in SCOPES:
            raise UsageError(f"--scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")
        object.__setattr__(self, "round_to", check_structure(self.structure, self.round_to))
        if self.exporter not in EXPORTERS:
            raise UsageError(f"--exporter must be one of {', '.join(EXPORTERS)}, got {self.exporter!r}")
        for name, value in (("--atol", self.atol), ("--rtol", self.rtol)):
            if not (math.isfinite(value) and value >= 0):
                raise UsageError(f"{name} must be a finite number >= 0, got {value}")
        check_budgets(self.eval, self.max_accuracy_drop, self.min_agreement)
        if self.recipe is not None and self.scope != "layer":
            raise UsageError(f"--recipe gives per-layer amounts and needs --scope layer, got {self.scope}")
        check_input_shape(self.input_shape)
        check_exclude(self.exclude)
        check_format_names(self.formats)
        if self.eval is not None:
            check_eval_spec(self.eval)
        check_task_options(self)
        check_finetune(self)

    def task_of_eval(self) -> str | None:
        """The evaluation's task: --task, else what the --eval data shows (``eval_task``)."""
        return eval_task(self.eval, self.task) if self.eval else None

    def preflight(self, stages: Iterable[str] = ALL_STAGES, present: Iterable[str] = ()) -> None:
        """What ``stages`` need that the settings alone cannot show, checked before any model loads:
        the --recipe and --eval files exist, and formats derived from model.onnx come with it
        (``present``: the artifacts a resumed directory already holds). Not in ``__post_init__``:
        a resumed stage that does not read those files must not fail because they moved."""
        stages = set(stages)
        if "prune" in stages and self.recipe is not None and not Path(self.recipe).is_file():
            raise UsageError(f"--recipe {self.recipe}: file not found")
        if stages & {"reference", "evaluate"} and self.eval:
            check_eval_file(self.eval)
        if "finetune" in stages and self.finetune and not finetune_data(self).startswith("builtin:"):
            check_labelled_npz(finetune_data(self))
        if "export" in stages:
            check_formats(self.formats, present)
            dense = exporters.DENSE_ONNX
            if "validate" in stages and dense not in self.formats and dense not in set(present):
                raise UsageError(
                    f"--formats {','.join(self.formats)} has no {dense}: validation runs model.onnx in"
                    f" onnxruntime against PyTorch, so it would fail; add {dense} to --formats"
                )

    def to_json(self, with_out: bool = True) -> dict:
        """The settings as JSON (report.json, state.json), without the run-time-only ones
        (RUNTIME_ONLY): the thread count changes wall time, never a hashed byte."""
        data = {k: v for k, v in asdict(self).items() if k not in RUNTIME_ONLY}
        data["out"] = str(self.out)
        if not with_out:
            del data["out"]
        data["weights"] = str(self.weights) if self.weights else None
        data["input_shape"] = list(self.input_shape) if self.input_shape else None
        data["formats"] = list(self.formats)
        data["recipe"] = str(self.recipe) if self.recipe else None
        data["settings_from_file"] = [k for k in self.settings_from_file if k not in RUNTIME_ONLY]
        return data

    @classmethod
    def from_json(cls, data: dict, **overrides) -> RunConfig:
        data = {**data, **{k: v for k, v in overrides.items() if v is not None}}
        data["out"] = Path(data.get("out") or ".")  # reports omit it: they live in out
        data["weights"] = Path(data["weights"]) if data.get("weights") else None
        data["input_shape"] = tuple(data["input_shape"]) if data.get("input_shape") else None
        data["formats"] = tuple(data["formats"])
        data["recipe"] = Path(data["recipe"]) if data.get("recipe") else None
        data["settings_from_file"] = tuple(data.get("settings_from_file") or ())
        data["max_drop"] = tuple(tuple(pair) for pair in data.get("max_drop") or ())
        return cls(**data)


def check_fraction(name: str, value, error: type[Exception] = UsageError, low_open: bool = False) -> float:
    """A fraction in [0, 1] (in (0, 1] with ``low_open``) as a float; anything else (NaN, inf,
    out of range, bool, not a number) raises ``error`` naming ``name``; never clamped."""
    interval = "(0, 1]" if low_open else "[0, 1]"
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if (
        not number
        or not math.isfinite(value)
        or not (0.0 < value if low_open else 0.0 <= value)
        or value > 1.0
    ):
        raise error(f"{name} must be a finite number in {interval}, got {value!r}")
    return float(value)


def check_format_names(formats: Iterable[str]) -> None:
    """At least one name, each a registered format (an unknown one lists the registered ones)."""
    formats = tuple(formats)
    if not formats:
        raise UsageError(f"--formats names no format; choose from: {', '.join(exporters.names())}")
    for name in formats:
        exporters.get(name)


def check_formats(formats: Iterable[str], present: Iterable[str] = ()) -> None:
    """Registered names; and a format written from model.onnx needs ``onnx`` among ``formats``
    or already ``present`` (a resumed directory's artifacts)."""
    formats = tuple(formats)
    check_format_names(formats)
    derived = [name for name in formats if exporters.get(name).derives_from_onnx]
    dense = exporters.DENSE_ONNX
    if derived and dense not in formats and dense not in set(present):
        raise UsageError(
            f"--formats {','.join(derived)} is derived from model.onnx; add {dense} to --formats"
        )


def check_exclude(pattern: str | None) -> None:
    """--exclude must compile as a Python regular expression (whether it matches is the model's say)."""
    if pattern is None:
        return
    try:
        re.compile(pattern)
    except re.error as e:
        raise UsageError(f"--exclude {pattern!r} is not a valid regular expression: {e}") from None


def check_eval_spec(spec: str) -> None:
    """builtin:NAME, random:N (1 <= N <= MAX_RANDOM) or a path; the path is checked in preflight."""
    if m := EVAL_RANDOM.match(spec):
        if not 1 <= int(m.group(1)) <= MAX_RANDOM:
            raise UsageError(f"--eval random:N needs 1 <= N <= {MAX_RANDOM}, got {int(m.group(1))}")
    elif spec.startswith(("builtin:", "random:")) and spec not in EVAL_BUILTINS:
        raise UsageError(f"--eval {spec!r}: use {', '.join(EVAL_BUILTINS)}, random:N or a path")


def check_eval_file(spec: str) -> None:
    """An --eval that names a path must name one that exists (a file, or a folder of images)."""
    if spec not in EVAL_BUILTINS and not EVAL_RANDOM.match(spec) and not Path(spec).exists():
        raise UsageError(
            f"--eval {spec}: file not found (nor a folder; or use {', '.join(EVAL_BUILTINS)} or random:N)"
        )


def guess_task(spec: str) -> str | None:
    """ "detect" or "classify" when --eval data is unambiguously one kind, else None (a bare
    folder of images, ``random:N``). Detection: builtin:shapes, a data.yaml, a COCO .json, a
    folder holding images/ and labels/. Classification: builtin:digits, a .npz."""
    path = Path(spec)
    if spec == "builtin:shapes" or path.suffix.lower() in (".yaml", ".yml", ".json"):
        return "detect"
    if spec == "builtin:digits" or path.suffix.lower() == ".npz":
        return "classify"
    if (path / "images").is_dir() and (path / "labels").is_dir():
        return "detect"
    return None


def eval_task(spec: str, task: str | None) -> str:
    """--task, else the task the data shows; random:N without --task is classification (scores
    compared with the dense model's), and a bare folder of images needs --task detect."""
    guessed = guess_task(spec)
    random = EVAL_RANDOM.match(spec)
    if task is not None:
        if guessed is not None and guessed != task:
            raise UsageError(f"--task {task} but --eval {spec} is {guessed} data")
        if task == "classify" and guessed is None and not random:
            raise UsageError(f"--eval {spec}: classification reads builtin:digits, random:N or a .npz")
        return task
    if guessed is None and not random:
        raise UsageError(f"--eval {spec}: say what it is for: --task detect (a folder of images, label-free)")
    return guessed or "classify"


def parse_max_drop(items) -> tuple[tuple[str, float], ...]:
    """--max-drop METRIC=VALUE (repeatable) as ((metric, value), ...); a malformed one is UsageError."""
    pairs = []
    for item in items or ():
        name, sep, value = str(item).partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or not name or number is None:
            raise UsageError(f"--max-drop {item!r}: write METRIC=VALUE, e.g. --max-drop mAP50=0.01")
        pairs.append((name.strip(), number))
    return tuple(pairs)


def check_task_options(cfg) -> None:
    """--task, --box-format and --max-drop name known values, fit the task, and need --eval."""
    if cfg.task is not None and cfg.task not in TASKS:
        raise UsageError(f"--task must be one of {', '.join(TASKS)}, got {cfg.task!r}")
    if cfg.box_format is not None and cfg.box_format not in BOX_FORMATS:
        raise UsageError(f"--box-format must be one of {', '.join(BOX_FORMATS)}, got {cfg.box_format!r}")
    given = [
        name
        for name, on in (("--task", cfg.task), ("--box-format", cfg.box_format), ("--max-drop", cfg.max_drop))
        if on
    ]
    if not cfg.eval:
        if given:
            raise UsageError(f"{given[0]} needs --eval DATA")
        return
    task = eval_task(cfg.eval, cfg.task)
    if cfg.box_format is not None and task != "detect":
        raise UsageError("--box-format decodes detector outputs; it needs detection data or --task detect")
    if task == "detect":
        for name, value in (
            ("--max-accuracy-drop", cfg.max_accuracy_drop),
            ("--min-agreement", cfg.min_agreement),
        ):
            if value is not None:
                raise UsageError(
                    f"{name} judges classifiers; on a detector use --max-drop mAP50=VALUE (or precision, recall, mAP50-95)"
                )
    metrics = DROP_METRICS[task]
    seen = set()
    for name, value in cfg.max_drop:
        if name not in metrics:
            raise UsageError(f"--max-drop {name}: a {task} evaluation gates on {', '.join(metrics)}")
        if name in seen:
            raise UsageError(f"--max-drop {name} given twice")
        seen.add(name)
        check_fraction(f"--max-drop {name}", value)


def drop_budgets(cfg) -> tuple[tuple[str, float], ...]:
    """Every budget of ``cfg`` (a RunConfig or a tuning config) as (metric, largest allowed drop):
    ``--max-accuracy-drop X`` is ("accuracy", X), each ``--max-drop M=X`` is (M, X), and
    ``--min-agreement Y`` is ("agreement", 1 - Y), the drop of top-1 agreement from the dense
    model's 1.0. The search in ``tuning`` judges a pruned model by these alone."""
    budgets = [] if cfg.max_accuracy_drop is None else [("accuracy", cfg.max_accuracy_drop)]
    budgets += list(cfg.max_drop)
    if cfg.min_agreement is not None:
        budgets.append(("agreement", 1.0 - cfg.min_agreement))
    return tuple(budgets)


def check_budgets(eval_spec: str | None, max_accuracy_drop, min_agreement) -> None:
    """Each budget given is a fraction in [0, 1] and needs --eval DATA to be judged on."""
    for name, value in (("--max-accuracy-drop", max_accuracy_drop), ("--min-agreement", min_agreement)):
        if value is not None:
            check_fraction(name, value)
            if not eval_spec:
                raise UsageError(f"{name} needs --eval DATA")


def check_input_shape(shape: tuple[int, ...] | None) -> None:
    if shape is not None and (not shape or any(d < 1 for d in shape)):
        raise UsageError(f"--input-shape must be positive integers, got {shape}")


# Channel counts kept by --structure channels round to multiples of this unless --round-to says
# otherwise. onnxruntime's CPU convolutions take their fast (NCHWc) path only where a conv's input
# channels are a multiple of the MLAS block (8 with AVX2, 16 with AVX-512) or fewer than it: exact
# counts ran builtin:resnet and builtin:detector at 0.3 about 0.65x as fast as dense, multiples
# of 8 1.25x and 1.37x faster (README, "Structured channel pruning").
DEFAULT_ROUND_TO = 8


def check_structure(structure: str, round_to: int | None) -> int | None:
    """--structure names a known kind; --round-to is an integer >= 1 and only rounds channel
    counts. Returns the round-to to use: DEFAULT_ROUND_TO for channels when not given."""
    if structure not in STRUCTURES:
        raise UsageError(f"--structure must be one of {', '.join(STRUCTURES)}, got {structure!r}")
    if round_to is None:
        return DEFAULT_ROUND_TO if structure == "channels" else None
    if isinstance(round_to, bool) or not isinstance(round_to, int) or round_to < 1:
        raise UsageError(f"--round-to must be an integer >= 1, got {round_to!r}")
    if structure != "channels":
        raise UsageError("--round-to rounds channel counts; it needs --structure channels")
    return round_to


def check_amount(amount: float) -> float:
    """Amount is a fraction in [0, 1]; NaN and inf are rejected, never clamped."""
    return check_fraction("--amount", amount)


def parse_shape(text: str) -> tuple[int, ...]:
    """Parse '1,3,224,224' into a shape; reject anything else rather than guess."""
    parts = text.replace(" ", "").split(",")
    if not all(p.isdigit() for p in parts) or any(int(p) < 1 for p in parts):
        raise UsageError(f"--input-shape must be positive integers like 1,3,224,224, got {text!r}")
    return tuple(int(p) for p in parts)


FINETUNE_BUILTINS = {"builtin:digits": "classify", "builtin:shapes": "detect"}  # their train splits
FUNCTION_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")  # as model.factory's FACTORY_RE


def finetune_data(cfg) -> str:
    """What --finetune trains on: --finetune-data, else the train split of a builtin --eval
    (builtin:digits, builtin:shapes). A user's --eval data is held out: never the default."""
    if cfg.finetune_data:
        return cfg.finetune_data
    if cfg.eval in FINETUNE_BUILTINS:
        return cfg.eval
    raise UsageError(
        "--finetune needs labelled training data apart from the held-out --eval data: give"
        " --finetune-data DATA (a .npz with 'inputs' and 'labels', builtin:digits or builtin:shapes,"
        " whose train splits are used), or train it yourself with --finetune-fn module:function"
    )


def check_labelled_npz(path: str) -> None:
    """--finetune-data exists and holds a ``labels`` array (read from the zip's listing, before
    the model loads); its contents are checked when it is read."""
    import zipfile

    if not Path(path).is_file():
        raise UsageError(f"--finetune-data {path}: file not found")
    try:
        with zipfile.ZipFile(path) as z:
            names = {n.removesuffix(".npy") for n in z.namelist()}
    except (OSError, zipfile.BadZipFile):
        return  # not a zip: reading it says why (exit 3)
    if "labels" not in names:
        raise UsageError(
            f"--finetune-data {path}: has no 'labels' array (found: {', '.join(sorted(names)) or 'none'});"
            " fine-tuning needs labelled inputs"
        )


def check_finetune(cfg) -> None:
    """--finetune EPOCHS with data it can train on (checked before any model loads), or
    --finetune-fn module:function; not both, and --finetune-data/--finetune-lr only with --finetune."""
    if cfg.finetune_fn is not None:
        if cfg.finetune is not None:
            raise UsageError("give --finetune EPOCHS (secateurs' loop) or --finetune-fn (yours), not both")
        if not FUNCTION_SPEC.match(cfg.finetune_fn):
            raise UsageError(
                f"--finetune-fn {cfg.finetune_fn!r}: write module:function, e.g. mytrain:recover"
            )
    if cfg.finetune is None:
        if cfg.finetune_data is not None:
            raise UsageError("--finetune-data needs --finetune EPOCHS")
        return
    if isinstance(cfg.finetune, bool) or not isinstance(cfg.finetune, int) or cfg.finetune < 1:
        raise UsageError(f"--finetune must be a whole number of epochs >= 1, got {cfg.finetune!r}")
    if not (
        isinstance(cfg.finetune_lr, (int, float)) and math.isfinite(cfg.finetune_lr) and cfg.finetune_lr > 0
    ):
        raise UsageError(f"--finetune-lr must be a finite number > 0, got {cfg.finetune_lr!r}")
    data = finetune_data(cfg)
    if data.startswith(("builtin:", "random:")) and data not in FINETUNE_BUILTINS:
        raise UsageError(f"--finetune-data {data}: use {', '.join(FINETUNE_BUILTINS)} or a .npz")
    if not data.startswith("builtin:") and Path(data).suffix.lower() != ".npz":
        raise UsageError(
            f"--finetune-data {data}: fine-tuning reads a .npz with 'inputs' and 'labels' (classifiers),"
            f" or {', '.join(FINETUNE_BUILTINS)}; for other data or losses use --finetune-fn"
        )
    task = FINETUNE_BUILTINS.get(data, "classify")
    if cfg.eval and not EVAL_RANDOM.match(cfg.eval):
        if not data.startswith("builtin:") and Path(data).resolve() == Path(cfg.eval).resolve():
            raise UsageError(
                f"--finetune-data {data} is the --eval data: training on it would grade the model on"
                " what it learned; give separate training data"
            )
        if cfg.task_of_eval() != task:
            raise UsageError(
                f"--finetune-data {data} is {task} data but --eval {cfg.eval} is {cfg.task_of_eval()}"
            )
