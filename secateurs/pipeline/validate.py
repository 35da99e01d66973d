"""Stage 4, validate: prove every artifact matches the pruned PyTorch model.

Inputs are seeded: two at the export shape plus one at the next batch size, so the
dynamic batch axis is exercised. Every ONNX artifact runs in onnxruntime against the
PyTorch outputs with the same comparator, after the checks each format declares
(exporters); the forms derived from model.onnx must also give bit-identical outputs. Results are
objects; the runner decides the exit code. The inputs and PyTorch's outputs are kept as
reference.npz, so `secateurs verify` can repeat the onnxruntime checks without PyTorch.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from secateurs import exporters, reference
from secateurs.files import write_with
from secateurs.model.outputs import named_outputs
from secateurs.pipeline.context import RunContext
from secateurs.validators import tolerances
from secateurs.validators.onnxruntime_run import run_compared
from secateurs.validators.results import Check, ValidationResult

N_INPUTS_AT_EXPORT_SHAPE = 2
IDENTICAL = "outputs bit-identical to model.onnx"


def run(ctx: RunContext) -> None:
    ctx.validation = validate(ctx)


def input_shapes(
    shape: tuple[int, ...], dynamic_hw: bool, fixed_batch: bool = False
) -> list[tuple[int, ...]]:
    """N at the export shape, one at batch + 1 (unless the batch is fixed), and with
    --dynamic-hw one at twice H and W.

    Each input costs a PyTorch forward and one onnxruntime run per ONNX artifact, and its
    outputs are held as the reference: on a YOLOv5s-sized detector at 640x640 three at the
    export shape and one at batch + 2 (six images) took validate to 0.53x the export's time
    and peak RSS to 1.31x the floor's (benchmarks/bench_pipeline.py); two and batch + 1 (four
    images) exercise the same dynamic batch axis.
    """
    shapes = [shape] * N_INPUTS_AT_EXPORT_SHAPE
    if not fixed_batch:
        shapes.append((shape[0] + 1, *shape[1:]))
    if dynamic_hw and len(shape) == 4:
        shapes.append((shape[0], shape[1], 2 * shape[2], 2 * shape[3]))
    return shapes


def make_inputs(shapes: list[tuple[int, ...]], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s, dtype=np.float32) for s in shapes]


def torch_outputs(model, inputs: list[np.ndarray], names: list[str]) -> list[dict[str, np.ndarray] | str]:
    """Reference outputs per input, or the error the PyTorch model raised at that shape."""
    refs = []
    with torch.no_grad():
        for x in inputs:
            try:
                out = model(torch.from_numpy(x))
            except Exception as e:  # user model code
                refs.append(f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}")
                continue
            refs.append({n: o.detach().float().numpy() for n, o in zip(names, named_outputs(out)[1])})
    return refs


def validate(ctx: RunContext) -> ValidationResult:
    cfg = ctx.config
    shapes = input_shapes(ctx.info.input_shape, cfg.dynamic_hw, ctx.info.fixed_batch)
    provided = tolerances.table(cfg.atol, cfg.rtol)
    atol, rtol = tolerances.for_provider(provided, cfg.provider)
    result = ValidationResult(
        shapes=sorted({"x".join(map(str, s)) for s in shapes}), provider=cfg.provider, tolerances=provided
    )
    inputs = make_inputs(shapes, cfg.seed)
    refs = torch_outputs(ctx.model, inputs, ctx.info.output_names)
    for x, ref in zip(inputs, refs):
        if isinstance(ref, str):
            shape = "x".join(map(str, x.shape))
            result.add(Check("(pytorch model)", f"forward @ {shape}", False, ref))
    inputs, refs = (
        [x for x, r in zip(inputs, refs) if not isinstance(r, str)],
        [r for r in refs if not isinstance(r, str)],
    )
    write_with(
        ctx.workdir / reference.FILENAME,
        lambda f: reference.write(f, inputs, refs, ctx.info.output_names, provided),
    )
    result.checks.extend(promised(ctx))
    present = {n: a.path for n, a in ctx.artifacts.items() if a.path.is_file()}  # else failed in promised()
    own = format_checks(ctx, present)
    dense = present.get(exporters.DENSE_ONNX)
    copies = [n for n in present if dense and n != exporters.DENSE_ONNX and same_file(ctx, n)]
    # model.onnx's fingerprints are what the derived forms must match.
    dense_checks, dense_outputs = (
        run_compared(dense, inputs, refs, atol, rtol, cfg.provider) if dense else ([], None)
    )
    for name, path in present.items():
        fmt = exporters.get(name)
        result.checks.extend(own.pop(name))
        if name == exporters.DENSE_ONNX:
            result.checks.extend(dense_checks)
        elif name in copies:  # model.onnx's bytes again: its run and comparison serve this file too
            result.checks.extend(dataclasses.replace(c, artifact=path.name) for c in dense_checks)
            if fmt.derives_from_onnx:
                result.add(Check(path.name, IDENTICAL, True, "the file is byte-identical to model.onnx"))
        elif exporters.ONNXRUNTIME in fmt.runtimes:
            checks, outputs = run_compared(path, inputs, refs, atol, rtol, cfg.provider)
            result.checks.extend(checks)
            if fmt.derives_from_onnx and dense_outputs is not None:
                result.add(identical_to_dense(path, outputs, dense_outputs))
    return result


def same_file(ctx: RunContext, name: str) -> bool:
    """An onnxruntime artifact that is model.onnx's bytes again (model.sparse.onnx below ~50%
    sparsity encodes no tensor): onnxruntime gives the same bytes the same outputs, so
    model.onnx's run serves it rather than a second session over the same model."""
    artifact, dense = ctx.artifacts[name], ctx.artifacts[exporters.DENSE_ONNX]
    if exporters.ONNXRUNTIME not in exporters.get(name).runtimes:
        return False
    if len(artifact.files) != 1 or len(dense.files) != 1 or artifact.size != dense.size:
        return False
    with open(artifact.path, "rb") as a, open(dense.path, "rb") as b:
        while True:
            block = a.read(1 << 20)
            if block != b.read(1 << 20):
                return False
            if not block:
                return True


def format_checks(ctx: RunContext, present: dict) -> dict[str, list[Check]]:
    """Each present format's own checks (structure, round trips), by name, all run before any
    onnxruntime session: they read model.onnx parsed, which is released after them, so it
    does not sit under the sessions, the stage's memory peak (building one for
    model.bitmask.onnx constant-folds its decoders)."""
    dense = exporters.DENSE_ONNX in present
    run = exporters.CheckInputs(ctx, ctx.pruned_weights(), ctx.dense_onnx() if dense else None)
    own = {name: exporters.get(name).checks(run, path) for name, path in present.items()}
    ctx.release_dense_onnx()
    return own


def promised(ctx: RunContext) -> list[Check]:
    """model.onnx, and every artifact the directory's --formats promise, is there to validate.

    A directory that holds only what `prune` wrote would otherwise pass on its one
    safetensors round trip: a CI pipeline that lost its export job must fail this gate.
    """
    label = "promised artifact present"
    missing = []
    for name in dict.fromkeys((exporters.DENSE_ONNX, *ctx.config.formats)):
        artifact = ctx.artifacts.get(name)
        if artifact is None or not artifact.path.is_file():
            missing.append(exporters.get(name))
    if not missing:
        present = ", ".join(a.path.name for a in ctx.artifacts.values())
        return [Check("(directory)", label, True, present)]
    out = ctx.config.out
    checks = []
    for fmt in missing:
        formats = "" if fmt.name == exporters.DENSE_ONNX else f" --formats {fmt.name}"
        how = f"`secateurs export {out}{formats}`"
        what = "no ONNX artifact to validate" if fmt.name == exporters.DENSE_ONNX else "promised by --formats"
        checks.append(Check(fmt.filename, label, False, f"not in {out} ({what}); run {how}"))
    return checks


def identical_to_dense(path, outputs, dense_outputs) -> Check:
    """A sparse form rebuilds exactly model.onnx's weights, so any output difference is a bug.
    ``outputs`` and ``dense_outputs`` are ``run_compared``'s fingerprints (or its error string):
    equal shape, dtype and sha256 per output and input."""
    label = IDENTICAL
    if isinstance(outputs, str):
        return Check(path.name, label, False, outputs)
    if isinstance(dense_outputs, str):
        return Check(path.name, label, False, f"model.onnx did not run: {dense_outputs}")
    for got, want in zip(outputs, dense_outputs):
        differ = [n for n in want if got.get(n) != want[n]]
        if differ:
            return Check(path.name, label, False, f"outputs differ: {', '.join(differ)}")
    return Check(path.name, label, True, f"{len(outputs)} inputs")
