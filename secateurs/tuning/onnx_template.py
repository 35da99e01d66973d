"""model.onnx exported once, from the dense model, and rewritten for each pruned state.

Pruning only turns weights into zeros, and the exporters treat each Conv weight element by
element: as is, or times a factor per output channel (a BatchNorm folded into the conv,
which both torch exporters do in eval mode). So what a fresh export would write for a
pruned model follows from one export of the dense model: an element pruning left alone
keeps its dense exported bits, and an element pruning zeroed is written as a zero with the
sign a fresh export gives it, that of ``+0.0`` times the channel's factor (``-0.0`` where
the factor is negative). The factor's sign is read off the dense export (the sign of the
exported value against the torch value, one per channel); its magnitude is never needed.

``OnnxTemplate`` proves that relation per Conv2d layer on the dense export, and ``render``
raises ``Unreproducible`` (never writes other bytes) where a fresh export could differ:
  - the exported file does not parse and serialize back to the same bytes;
  - a pruned layer's weight initializer is not found, is claimed by two layers, is not raw
    float data, or is not its torch weight as is or scaled per output channel;
  - a pruned weight differs from the dense one other than by zeros;
  - a rewritten weight equals another initializer of its type and shape (the exporters
    store equal initializers once: torchscript by value, dynamo by bytes).
What it cannot see from the graph, e.g. an exporter folding a weight's values into some
other constant, ``tuning.graph_reuse`` catches by comparing one fresh export with the
rewrite before trusting it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
import torch

from secateurs.model.conv_targets import find_conv_weights
from secateurs.validators.pruned_map import conv_weight_initializers

# ONNX element type -> (torch dtype, same-width signed int for torch's view, numpy bits, eps)
FLOATS = {
    onnx.TensorProto.FLOAT: (torch.float32, torch.int32, np.uint32, 2.0**-23),
    onnx.TensorProto.DOUBLE: (torch.float64, torch.int64, np.uint64, 2.0**-52),
    onnx.TensorProto.FLOAT16: (torch.float16, torch.int16, np.uint16, 2.0**-10),
    onnx.TensorProto.BFLOAT16: (torch.bfloat16, torch.int16, np.uint16, 2.0**-7),
}
RATIO_ULPS = 4  # a factor applied by one or two roundings spreads the ratio by at most 2 ulps


class Unreproducible(Exception):
    """The rewrite could differ from a fresh export; the message says why (one line)."""


@dataclass
class Slot:
    """Where one Conv2d layer's weight sits in the dense export, and how it was transformed."""

    index: int  # into graph.initializer
    dense: np.ndarray  # the dense torch weight's bits, [out, rest]
    exported: np.ndarray  # the initializer's bits, [out, rest]
    flip: np.ndarray  # [out, 1]: the sign bit where the channel's factor is negative, else 0


class OnnxTemplate:
    """The dense model.onnx parsed (``proto``) and each Conv2d layer's ``Slot`` in it, or the
    reason (a string) that layer cannot be rendered."""

    def __init__(self, data: bytes, model, exclude: str | None = None) -> None:
        """``data``: the exporter's bytes; ``model``: the torch model holding the dense weights
        it was exported from. Its Conv2d layers (less ``exclude``) get slots."""
        self.proto = onnx.load_from_string(data)
        if self.proto.SerializeToString() != data:
            raise Unreproducible("the exported model.onnx does not serialize back to its own bytes")
        graph = self.proto.graph
        index = {t.name: i for i, t in enumerate(graph.initializer)}
        convs = [index[n] for n in dict.fromkeys(conv_weight_initializers(self.proto)) if n is not None]
        self.slots: dict[str, Slot | str] = {}
        claimed: dict[int, str] = {}
        for c in find_conv_weights(model, exclude)[0]:
            found = locate(graph, convs, c.weight)
            if isinstance(found, Slot) and found.index in claimed:
                other = claimed[found.index]
                self.slots[other] = found = f"layers {other} and {c.layer} share one initializer"
            elif isinstance(found, Slot):
                claimed[found.index] = c.layer
            self.slots[c.layer] = found
        self._rendered: list[Slot] = []  # slots whose initializer holds other than the dense export

    def render(self, weights: dict[str, torch.Tensor]) -> bytes:
        """model.onnx as a fresh export would write it with these pruned weights (by layer;
        every other layer dense). Raises Unreproducible, saying why, where it cannot tell."""
        tensors = self.proto.graph.initializer
        for slot in self._rendered:
            tensors[slot.index].raw_data = slot.exported.tobytes()
        self._rendered = []
        for layer, weight in weights.items():
            slot = self.slots.get(layer, "not a Conv2d weight of the dense model")
            if isinstance(slot, str):
                raise Unreproducible(f"{layer}: {slot}")
            new = bits(weight, FLOATS[tensors[slot.index].data_type])
            sign = sign_bit(new)
            changed = new != slot.dense
            if (new[changed] & ~sign).any():
                raise Unreproducible(
                    f"{layer}: the pruned weight differs from the dense one other than by zeros"
                )
            self._rendered.append(slot)
            tensors[slot.index].raw_data = np.where(
                changed, (new & sign) ^ slot.flip, slot.exported
            ).tobytes()
            check_distinct(tensors, slot.index, layer)
        return self.proto.SerializeToString()


def locate(graph, convs: list[int], weight: torch.Tensor) -> Slot | str:
    """The one Conv weight initializer (of ``convs``, indices into graph.initializer) holding
    ``weight`` as is or scaled per output channel; else why not."""
    found = []
    for i in convs:
        tensor = graph.initializer[i]
        kind = FLOATS.get(tensor.data_type)
        if kind is None or kind[0] != weight.dtype or tuple(tensor.dims) != tuple(weight.shape):
            continue
        if not tensor.HasField("raw_data"):
            return f"initializer {tensor.name} is not stored as raw data"
        dense = bits(weight, kind).copy()  # the live weight is pruned in place later
        exported = np.frombuffer(tensor.raw_data, dtype=kind[2]).reshape(dense.shape)
        flip = channel_flips(exported, dense, kind)
        if flip is not None:
            found.append(Slot(i, dense, exported, flip))
    if len(found) != 1:
        return f"{len(found) or 'no'} Conv weight initializers hold its weight"
    return found[0]


def bits(weight: torch.Tensor, kind: tuple) -> np.ndarray:
    """The weight's IEEE bit patterns as unsigned integers, [out, rest]."""
    w = weight.detach().cpu().contiguous()
    return w.view(kind[1]).numpy().view(kind[2]).reshape(w.shape[0], -1)


def sign_bit(b: np.ndarray):
    return b.dtype.type(1) << b.dtype.type(8 * b.dtype.itemsize - 1)


def values(b: np.ndarray, kind: tuple) -> np.ndarray:
    """Bit patterns as float64 values (bfloat16 is the upper half of a float32)."""
    if kind[0] == torch.bfloat16:
        return (b.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return b.view({np.uint16: np.float16, np.uint32: np.float32, np.uint64: np.float64}[kind[2]]).astype(
        np.float64
    )


def channel_flips(exported: np.ndarray, dense: np.ndarray, kind: tuple) -> np.ndarray | None:
    """[out, 1] sign bits if ``exported`` is ``dense`` as is or times one finite factor per
    output channel, else None. The ratio may spread by a few ulps: the factor's rounding."""
    sign = sign_bit(dense)
    if np.array_equal(exported, dense):
        return np.zeros((dense.shape[0], 1), dtype=dense.dtype)
    t, w = values(exported, kind), values(dense, kind)
    if not (np.isfinite(t).all() and np.isfinite(w).all()):
        return None
    flips = (exported ^ dense) & sign
    if (flips != flips[:, :1]).any() or (t[w == 0] != 0).any():
        return None  # not one sign per channel, or a zero not kept zero: not a product
    tolerance = RATIO_ULPS * kind[3]
    for row_t, row_w in zip(t, w):
        ratio = row_t[row_w != 0] / row_w[row_w != 0]
        if ratio.size == 0 or not ratio.any():
            continue  # an all-zero channel or a zero factor: the signs say everything
        if not ratio.all() or np.abs(ratio / ratio[0] - 1).max() > tolerance:
            return None
    return flips[:, :1].copy()


def check_distinct(tensors, index: int, layer: str) -> None:
    """Raise Unreproducible if initializer ``index`` (``layer``'s, just rendered) equals another
    of its type and shape as floats (``+0.0 == -0.0``), which an exporter would store once."""
    mine = tensors[index]
    unsigned = FLOATS[mine.data_type][2]
    for j, other in enumerate(tensors):
        if j == index or other.data_type != mine.data_type or list(other.dims) != list(mine.dims):
            continue
        if not other.HasField("raw_data"):
            raise Unreproducible(f"initializer {other.name} is not stored as raw data")
        a, b = (np.frombuffer(t.raw_data, dtype=unsigned) for t in (mine, other))
        if all(
            np.array_equal(zeros_unsigned(a[part]), zeros_unsigned(b[part]))
            for part in (slice(64), slice(None))
        ):
            raise Unreproducible(
                f"{layer}'s pruned weight equals initializer {other.name}, which the exporter may store once"
            )


def zeros_unsigned(b: np.ndarray) -> np.ndarray:
    """Bit patterns with -0.0 made +0.0, so equal bits mean equal values (NaN aside)."""
    return np.where(b & ~sign_bit(b) == 0, 0, b).astype(b.dtype)
