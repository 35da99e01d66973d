"""The Python API: what each command does, called from Python.

``run``, ``prune``, ``export``, ``validate``, ``report`` and ``verify`` take the CLI's
long option names as keyword arguments (``--max-accuracy-drop`` is ``max_accuracy_drop``),
return the data of report.json (``verify``: its result with the digest) and raise the
``SecateursError`` subclass whose exit code the CLI would use (``secateurs.errors``):
``ValidationFailed`` (1), ``UsageError`` (2), ``InputError`` (3), ``ExportError`` (4),
``OutputError`` (5), ``GateFailed`` (6). As on the command line, nothing half-written is
left at ``out``; a failed validation or gate leaves its evidence in ``<out>.failed/``.

Unlike the CLI, no settings file is read, nothing is printed (pass ``progress``, a
callable taking one line, to see the stages), and ``out`` has no default.

The torch side is imported when a function needs it, so ``verify`` works where only
``secateurs[runtime]`` is installed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from secateurs.config import RunConfig, parse_shape
from secateurs.errors import UsageError

PathLike = str | Path
Progress = Callable[[str], None] | None


def run(
    model: str,
    *,
    out: PathLike,
    weights: PathLike | None = None,
    input_shape: str | Sequence[int] | None = None,
    trust_model_code: bool = False,
    amount: float | None = None,
    scope: str | None = None,
    structure: str | None = None,
    round_to: int | None = None,
    exclude: str | None = None,
    recipe: PathLike | None = None,
    allow_noop: bool = False,
    exporter: str | None = None,
    opset: int | None = None,
    dynamic_hw: bool = False,
    formats: str | Sequence[str] | None = None,
    onnx_strict: bool = False,
    atol: float | None = None,
    rtol: float | None = None,
    provider: str | None = None,
    eval: str | None = None,  # noqa: A002  (the CLI's --eval)
    max_accuracy_drop: float | None = None,
    min_agreement: float | None = None,
    auto: bool = False,
    finetune: int | None = None,
    finetune_data: str | None = None,
    finetune_lr: float | None = None,
    finetune_fn: str | None = None,
    threads: int | None = None,
    latency_runs: int | None = None,
    progress: Progress = None,
) -> dict:
    """`secateurs run`: load, prune, export, validate (and evaluate with ``eval``), report.
    Options left at None take the CLI's defaults; ``auto`` chooses ``amount`` as ``--auto``
    (and refuses ``finetune``, as the CLI does)."""
    settings = {k: v for k, v in locals().items() if k not in ("model", "out", "auto", "progress")}
    from secateurs.pipeline.runner import execute, run_stages

    cfg = _config(model, out, settings)
    notes: tuple[str, ...] = ()
    if auto:
        if finetune or finetune_fn:
            raise UsageError("auto bisects amounts without fine-tuning; with finetune give amount")
        cfg, notes = _auto_amount(cfg, amount)
    return execute(cfg, run_stages(cfg), progress=progress or _silent, notes=notes)[1]


def prune(
    model: str,
    *,
    out: PathLike,
    weights: PathLike | None = None,
    input_shape: str | Sequence[int] | None = None,
    trust_model_code: bool = False,
    amount: float | None = None,
    scope: str | None = None,
    structure: str | None = None,
    round_to: int | None = None,
    exclude: str | None = None,
    recipe: PathLike | None = None,
    allow_noop: bool = False,
    finetune: int | None = None,
    finetune_data: str | None = None,
    finetune_lr: float | None = None,
    finetune_fn: str | None = None,
    threads: int | None = None,
    progress: Progress = None,
) -> dict:
    """`secateurs prune`: load and prune (and fine-tune), writing pruned.safetensors and the stage state."""
    settings = {k: v for k, v in locals().items() if k not in ("model", "out", "progress")}
    from secateurs.pipeline.runner import execute

    cfg = _config(model, out, {**settings, "formats": ("safetensors",)})
    tuned = ["finetune"] if finetune or finetune_fn else []
    return execute(cfg, ["load", "prune", *tuned, "export"], progress=progress or _silent)[1]


def export(
    directory: PathLike,
    *,
    exporter: str | None = None,
    opset: int | None = None,
    dynamic_hw: bool | None = None,
    formats: str | Sequence[str] | None = None,
    onnx_strict: bool | None = None,
    threads: int | None = None,
    progress: Progress = None,
) -> dict:
    """`secateurs export`: the export stage on a directory ``prune`` (or ``run``) wrote;
    options left at None keep that directory's settings."""
    from secateurs.config import DEFAULT_FORMATS

    chosen = _formats(formats) or tuple(f for f in DEFAULT_FORMATS if f != "safetensors")
    overrides = {"exporter": exporter, "opset": opset, "dynamic_hw": dynamic_hw, "onnx_strict": onnx_strict}
    return _resume(directory, ["export"], threads, progress, formats=chosen, **overrides)


def validate(
    directory: PathLike,
    *,
    atol: float | None = None,
    rtol: float | None = None,
    provider: str | None = None,
    threads: int | None = None,
    progress: Progress = None,
) -> dict:
    """`secateurs validate`: every check on a directory ``export`` (or ``run``) wrote;
    raises ValidationFailed (the report is then in ``<directory>.failed/``)."""
    provider = _provider(provider)
    return _resume(directory, ["validate"], threads, progress, atol=atol, rtol=rtol, provider=provider)


def report(directory: PathLike) -> dict:
    """`secateurs report`: rewrite report.md and manifest.json; return report.json's data."""
    from secateurs.report.stored import rewrite

    return rewrite(Path(directory))[0]


def verify(
    directory: PathLike,
    *,
    provider: str = "cpu",
    expect_digest: str | None = None,
    threads: int | None = None,
) -> dict:
    """`secateurs verify`, torch-free: the result (``passed``, ``checks`` …) and ``digest``;
    raises ValidationFailed when a check fails, as the CLI exits 1."""
    import re

    from secateurs import cpus
    from secateurs.errors import ValidationFailed
    from secateurs.verify import computed_digest, failure_line, verify_directory

    if expect_digest is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", expect_digest):
        raise UsageError(f"--expect-digest {expect_digest!r} is not a sha256 digest (64 hex digits)")
    cpus.use(cpus.resolve(threads))
    directory = Path(directory)
    result = verify_directory(directory, _provider(provider), expect_digest and expect_digest.lower())
    if result.failures:
        raise ValidationFailed(failure_line(result))
    return {**result.to_json(), "directory": str(directory), "digest": computed_digest(directory)}


def _silent(_line: str) -> None:
    pass


def _config(model: str, out: PathLike, settings: dict) -> RunConfig:
    """A RunConfig from keyword arguments in the CLI's spelling; None keeps the default."""
    if not isinstance(model, str):
        raise UsageError(
            f"model must be a string (builtin:NAME, package.module:factory or a file), got {model!r}"
        )
    settings = {k: v for k, v in settings.items() if v is not None and v is not False}
    for name in ("weights", "recipe"):
        if name in settings:
            settings[name] = Path(settings[name])
    if "input_shape" in settings:
        shape = settings["input_shape"]
        settings["input_shape"] = parse_shape(shape) if isinstance(shape, str) else tuple(shape)
    if "formats" in settings:
        settings["formats"] = _formats(settings["formats"])
    if "provider" in settings:
        settings["provider"] = _provider(settings["provider"])
    from secateurs.model.recipe import run_as_measured  # torch-free

    cfg = RunConfig(model=model, out=Path(out), **settings)
    return run_as_measured(cfg, round_to_given="round_to" in settings)


def _formats(formats: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if formats is None:
        return None
    names = formats.split(",") if isinstance(formats, str) else formats
    return tuple(dict.fromkeys(n.strip() for n in names if n.strip()))


def _provider(name: str | None) -> str | None:
    from secateurs.validators.providers import resolve

    return None if name is None else resolve(name)


def _resume(directory: PathLike, stages: list[str], threads, progress: Progress, **overrides) -> dict:
    from secateurs.pipeline.runner import execute, resumed_config

    directory = Path(directory)
    cfg = resumed_config(directory, threads=threads, **overrides)
    return execute(cfg, stages, resume=directory, progress=progress or _silent)[1]


def _auto_amount(cfg: RunConfig, amount: float | None) -> tuple[RunConfig, tuple[str, ...]]:
    """``auto=True``: as ``run --auto``, the largest uniform amount within the budget."""
    from dataclasses import replace

    from secateurs.threads import apply
    from secateurs.tuning.sweep import auto_amount_for

    if amount is not None:
        raise UsageError("auto chooses the amount itself; drop amount")
    if cfg.max_accuracy_drop is None and cfg.min_agreement is None:
        raise UsageError("auto needs a budget: max_accuracy_drop and/or min_agreement")
    apply(cfg.threads)
    chosen, probes = auto_amount_for(cfg)
    note = f"--auto chose amount {chosen}: largest within the budget, {len(probes)} probes, resolution 0.01"
    return replace(cfg, amount=chosen), (note,)
