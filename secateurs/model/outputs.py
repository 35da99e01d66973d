"""Flatten a model's output of any nesting into named tensor leaves.

The order is torch's pytree order (``torch.utils._pytree``), which both ONNX exporters
use to flatten outputs: tuples and lists by position, dicts in insertion order. ``None``
leaves are dropped, as the exporters drop them. Any other non-tensor leaf is refused.

Names are the leaf's path, joined with dots:
  a single tensor                       -> ``output``
  a tuple/list                          -> ``output.0``, ``output.1.0``, ``output.1.1`` ...
  a dict (or a namedtuple) at the top   -> its keys: ``logits``, ``aux.0`` ...
"""

from __future__ import annotations

import torch
from torch.utils import _pytree as pytree

from secateurs.errors import InputError

ROOT = "output"
RESERVED = ("input",)  # the ONNX input's name (ModelInfo.input_names): an output may not take it


def _part(key) -> str:
    if isinstance(key, pytree.SequenceKey):
        return str(key.idx)
    if isinstance(key, pytree.MappingKey):
        return str(key.key)
    if isinstance(key, pytree.GetAttrKey):
        return key.name
    return str(key).strip(".[]'\"")


def leaf_name(path) -> str:
    """The ONNX output name of one pytree key path (see the module docstring)."""
    if not path:
        return ROOT
    parts = [_part(k) for k in path]
    if isinstance(path[0], pytree.SequenceKey):
        parts.insert(0, ROOT)
    return ".".join(parts)


def named_outputs(out) -> tuple[list[str], list]:
    """(names, tensors) of every tensor leaf of ``out``, in exporter order.

    Raises InputError for a leaf that is neither a tensor nor None, for an output with no
    tensor at all, and for two leaves whose dotted names collide.
    """
    leaves, _ = pytree.tree_flatten_with_path(out)
    names, tensors = [], []
    for path, leaf in leaves:
        name = leaf_name(path)
        if leaf is None:
            continue
        if not isinstance(leaf, torch.Tensor):
            raise InputError(
                f"model output {name} is a {type(leaf).__name__}, not a tensor; secateurs exports"
                " tensor outputs (nested in tuples, lists and dicts) only"
            )
        names.append(name)
        tensors.append(leaf)
    if not tensors:
        raise InputError(
            f"model output holds no tensor (got {type(out).__name__}); secateurs needs at least one"
        )
    bad = [n for n in names if not n or n in RESERVED]
    if bad:
        raise InputError(
            f"model output name {bad[0]!r} cannot name an ONNX output (empty, or the input's name);"
            " rename that dict key"
        )
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"model output names collide after flattening: {', '.join(dupes)}")
    return names, tensors
