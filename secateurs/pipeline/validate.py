"""Stage 4, validate: prove every artifact matches the pruned PyTorch model.

Inputs are seeded: several at the export shape plus one at another batch size, so the
dynamic batch axis is exercised. Results are objects; the runner decides the exit code.
"""

from __future__ import annotations

import numpy as np

from secateurs.pipeline.context import RunContext
from secateurs.validators import onnx_structure
from secateurs.validators.onnxruntime_run import compare_with_reference
from secateurs.validators.results import Check, ValidationResult

N_INPUTS_AT_EXPORT_SHAPE = 3


def run(ctx: RunContext) -> None:
    ctx.validation = validate(ctx)


def make_inputs(shape: tuple[int, ...], seed: int) -> list[np.ndarray]:
    """Seeded normal inputs: N at ``shape`` and one with batch size + 2."""
    rng = np.random.default_rng(seed)
    other = (shape[0] + 2, *shape[1:])
    shapes = [shape] * N_INPUTS_AT_EXPORT_SHAPE + [other]
    return [rng.standard_normal(s, dtype=np.float32) for s in shapes]


def torch_outputs(model, inputs: list[np.ndarray], names: list[str]) -> list[dict[str, np.ndarray]]:
    import torch

    refs = []
    with torch.no_grad():
        for x in inputs:
            out = model(torch.from_numpy(x))
            outs = list(out) if isinstance(out, (tuple, list)) else [out]
            refs.append({n: o.detach().float().numpy() for n, o in zip(names, outs)})
    return refs


def pruned_weights(ctx: RunContext) -> dict[str, np.ndarray]:
    modules = dict(ctx.model.named_modules())
    return {r.name: modules[r.name].weight.detach().float().numpy() for r in ctx.layers}


def validate(ctx: RunContext) -> ValidationResult:
    import onnx

    cfg = ctx.config
    result = ValidationResult()
    inputs = make_inputs(ctx.info.input_shape, cfg.seed)
    refs = torch_outputs(ctx.model, inputs, ctx.info.output_names)
    weights = pruned_weights(ctx)
    for artifact in ctx.artifacts.values():
        path = artifact.path
        if path.suffix == ".onnx":
            result.add(onnx_structure.checker(path, full_check=True))
            model = onnx.load(str(path))
            result.add(onnx_structure.leaks(path, model))
            result.add(onnx_structure.sparsity_survives(path, model, weights))
            for check in compare_with_reference(path, inputs, refs, cfg.atol, cfg.rtol):
                result.add(check)
        elif path.suffix == ".safetensors":
            result.add(state_dict_round_trip(path, ctx.model))
    return result


def state_dict_round_trip(path, model) -> Check:
    """The saved state_dict equals the in-memory pruned model bit for bit."""
    import torch
    from safetensors.torch import load_file

    saved = load_file(str(path))
    state = model.state_dict()
    differ = [k for k in state if k not in saved or not torch.equal(saved[k], state[k])]
    differ += [k for k in saved if k not in state]
    if differ:
        return Check(
            path.name, "state_dict round trip (bit-exact)", False, f"differs: {', '.join(differ[:8])}"
        )
    return Check(path.name, "state_dict round trip (bit-exact)", True, f"{len(state)} tensors equal")
