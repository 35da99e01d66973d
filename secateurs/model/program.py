"""torch.export programs (.pt2): their input signature, and inference mode.

A program keeps what it was captured with. Two things follow:
- shapes: exported without ``dynamic_shapes``, its batch is fixed; secateurs then exports
  and validates at that batch only, and says so;
- mode: exported from a model in training mode, BatchNorm normalizes with batch statistics
  and updates its running buffers on every call, and dropout is live. An exported module
  cannot be switched with ``.eval()`` (pytorch/pytorch#151726), so the graph's own
  ``training``/``train`` arguments are rewritten to False where the op takes one (the
  pre-dispatch IR that ``torch.export.export`` writes). Ops that only exist in a
  training form (the decomposed ``_native_batch_norm_legit_functional`` of a program saved
  after ``run_decompositions()``) cannot be switched: such a program is refused.
"""

from __future__ import annotations

import torch

from secateurs.errors import ExportError, InputError


def input_signature(program) -> tuple[tuple[int, ...] | None, bool]:
    """(example input shape or None, whether the batch axis is fixed) of a one-input program."""
    user_inputs = list(program.graph_signature.user_inputs)
    args = program.example_inputs[0] if program.example_inputs else ()
    shape = tuple(args[0].shape) if len(args) == 1 and isinstance(args[0], torch.Tensor) else None
    if len(user_inputs) != 1:
        return shape, False
    node = next((n for n in program.graph.nodes if n.op == "placeholder" and n.name == user_inputs[0]), None)
    val = node.meta.get("val") if node is not None else None
    dims = getattr(val, "shape", None)
    fixed = bool(dims) and isinstance(dims[0], int)
    return shape, fixed


def _ops(names: dict[str, int | None]) -> dict:
    found = {}
    for qualified, index in names.items():
        packet, _, overload = qualified.partition(".")
        op = getattr(getattr(torch.ops.aten, packet, None), overload, None)
        if op is not None:
            found[op] = index
    return found


# op -> position of its training flag, for ops that can be switched to inference
SWITCHABLE = {
    "batch_norm.default": 5,
    "dropout.default": 2,
    "feature_dropout.default": 2,
    "alpha_dropout.default": 2,
    "feature_alpha_dropout.default": 2,
}
# training-only forms (index of the flag, or None where the op is always training)
FIXED_IN_TRAINING = {
    "_native_batch_norm_legit_functional.default": 5,
    "_native_batch_norm_legit.default": 5,
    "native_batch_norm.default": 5,
    "_batch_norm_with_update.default": None,
    "_batch_norm_with_update_functional.default": None,
    "native_dropout.default": 2,
}


def to_inference(module, path) -> list[str]:
    """Switch a program's module (``ExportedProgram.module()``) to inference in place.

    Raises InputError naming the node when the program holds a training-only op.
    """
    switchable, fixed = _ops(SWITCHABLE), _ops(FIXED_IN_TRAINING)
    graph = module.graph
    switched, counter_updates = [], []
    for node in list(graph.nodes):
        if node.op != "call_function":
            continue
        if node.target in fixed:
            index = fixed[node.target]
            if index is None or (len(node.args) > index and node.args[index] is True):
                raise InputError(
                    f"{path}: the torch.export program was exported in training mode ({node.target}"
                    f" at node {node.name!r} uses batch statistics or live dropout) and this form cannot"
                    " be switched to inference; export it again after model.eval()"
                )
        elif node.target in switchable:
            index = switchable[node.target]
            if len(node.args) > index and node.args[index] is True:
                node.args = (*node.args[:index], False, *node.args[index + 1 :])
                switched.append(str(node.target).split(".")[-2])
        elif _is_counter_update(node):
            counter_updates.append(node)
    for node in counter_updates:
        graph.erase_node(node)
    if not switched:
        return []
    graph.lint()
    module.recompile()
    counts = ", ".join(f"{switched.count(k)} {k}" for k in dict.fromkeys(switched))
    return [
        f"{path.name}: the torch.export program was exported in training mode; switched to inference"
        f" ({counts} set to training=False; BatchNorm uses its running statistics)"
    ]


def _is_counter_update(node) -> bool:
    """BatchNorm's ``num_batches_tracked += 1`` in a training-mode graph (result unused)."""
    if node.target != torch.ops.aten.add_.Tensor or node.users:
        return False
    target = getattr(node.args[0], "target", "")
    return isinstance(target, str) and target.endswith("num_batches_tracked")


def save_program(model, input_shape: tuple[int, ...], path) -> bool:
    """Write ``model`` as a torch.export program (.pt2: a graph and tensors, no pickle), with a
    dynamic batch axis where the model allows one. Returns whether the batch is dynamic.

    This is how a channel-pruned model travels: its smaller architecture is in the graph, so
    ``secateurs.model.load`` (and ``torch.export.load``) read it back without the code that
    built the original. A size-1 batch is traced at 2, as torch.export specialises size-1 dims.
    """
    example = torch.zeros(*input_shape)
    if example.shape[0] == 1:
        example = torch.zeros(2, *input_shape[1:])
    try:
        try:
            dims = ({0: torch.export.Dim("batch", min=1)},)
            program = torch.export.export(model, (example,), dynamic_shapes=dims, strict=False)
            dynamic = True
        except Exception:  # the model fixes its batch (view(1, -1) ...): keep the given one
            example, dynamic = torch.zeros(*input_shape), False
            program = torch.export.export(model, (example,), strict=False)
        torch.export.save(program, str(path))
    except Exception as e:  # torch.export raises many types on models it cannot capture
        raise ExportError(
            f"{path}: torch.export could not capture the pruned model ({type(e).__name__}:"
            f" {str(e).strip().splitlines()[0][:200] if str(e).strip() else ''})"
        ) from e
    return dynamic
