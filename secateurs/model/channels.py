"""Structured channel pruning: remove whole Conv2d output channels, and everything coupled to them.

Three concerns stay apart, as in ``prune``:
  score   - a filter's L1 norm, sum |w| over its input channels and kernel, as
            ``torch.nn.utils.prune.ln_structured(n=1, dim=0)``. Convs whose outputs are added
            (a residual) must lose the same channels: such a coupled group is scored by the sum
            of its filters' norms, channel by channel.
  select  - ``layer`` scope: round(amount * channels) lowest per group (a recipe's amount for
            a group is the smallest it gives the group's convs). ``global`` scope: one
            threshold over every prunable channel's mean |w| (the norm over the filter's
            size, so wide and narrow layers compare), each group cutting what fell under it.
            Every group keeps at least one channel, and with ``round_to`` N a multiple of N.
  apply   - Torch-Pruning's DependencyGraph removes the channels physically: BatchNorm, the
            next layers' input channels, residual additions, concatenations, depthwise and
            grouped convs, a Linear after pooling. The result is an ordinary smaller model.
Output layers (``channel_graph.output_layers``) and ``--exclude``d layers keep their
weights: no group that cuts their output or input channels is pruned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
from torch_pruning.ops import OPTYPE

from secateurs.errors import InputError, UsageError
from secateurs.model import channel_graph
from secateurs.model.conv_targets import partition_convs
from secateurs.model.load import probe


@dataclass
class ChannelResult:
    """What channel pruning did: each Conv2d/Linear layer's widths before and after."""

    layers: list[dict]
    output_layers: list[str]
    params_before: int
    params_after: int
    groups: int  # coupled groups cut
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "layers": self.layers,
            "output_layers": self.output_layers,
            "params_before": self.params_before,
            "params_after": self.params_after,
            "groups_cut": self.groups,
        }


@dataclass
class _Plan:
    root: nn.Module
    handler: object
    convs: list[str]
    scores: np.ndarray  # per root channel
    sizes: np.ndarray  # weights behind each score
    ch_groups: int
    amount: float


def count_params(model) -> int:
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def _widths(model) -> dict[str, tuple[str, int, int]]:
    found = {}
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            found[name] = ("Conv2d", m.out_channels, m.in_channels)
        elif isinstance(m, nn.Linear):
            found[name] = ("Linear", m.out_features, m.in_features)
    return found


def refuse_graph_models(model, spec: str) -> None:
    """A torch.export program or TorchScript archive has no nn.Conv2d modules to cut."""
    if isinstance(model, (torch.fx.GraphModule, torch.jit.ScriptModule)):
        raise InputError(
            f"{spec}: --structure channels cuts nn.Conv2d modules, and a torch.export program or"
            " TorchScript archive holds a graph instead; pass its factory (package.module:factory)"
            " with --weights, or use --structure unstructured"
        )


def prune_channels(
    model,
    input_shape: tuple[int, ...],
    amount: float,
    scope: str = "layer",
    exclude: str | None = None,
    layer_amounts: dict[str, float] | None = None,
    round_to: int = 1,
    spec: str = "model",
) -> ChannelResult:
    """Remove the lowest-L1 output channels of every prunable Conv2d group, in place."""
    refuse_graph_models(model, spec)
    chosen, excluded, found = partition_convs(model, exclude)
    tied = [n for n in found if "is tied to" in n]
    if tied:
        raise InputError(f"{tied[0].split(';')[0]}: tied weights cannot lose channels; --exclude one of them")
    names = {c.layer for c in chosen}
    if layer_amounts is not None:
        unknown = sorted(set(layer_amounts) - names)
        if unknown:
            raise UsageError(f"recipe names layers that are not prunable Conv2d layers: {', '.join(unknown)}")
    example = torch.randn(*input_shape, generator=torch.Generator().manual_seed(0))
    _, reference = probe(model, example)
    widths_before, params_before = _widths(model), count_params(model)
    graph, out_fns, notes = channel_graph.trace(model, example)
    outputs = set(channel_graph.output_nodes(graph, out_fns))
    kept_out = channel_graph.output_layers(graph, out_fns)
    by_module = {m: n for n, m in model.named_modules()}
    excluded_mods = {m for n, m in model.named_modules() if n in {layer for layer, _ in excluded}}
    kept: dict[str, str] = {by_module[m]: "output layer" for m in kept_out}
    kept.update({by_module[m]: "excluded" for m in excluded_mods})
    plans = [
        _plan(group, out_convs, group_names, graph, amount, layer_amounts)
        for group, out_convs, group_names in _cuttable_groups(
            graph, outputs, kept_out, excluded_mods, by_module, kept
        )
    ]
    if scope == "global":
        _global_amounts(plans, amount)
    cut, removed = 0, {}
    for plan in plans:
        idxs = _select(plan, round_to)
        if not idxs:
            n = plan.scores.size
            why = "amount rounds to no channel" if plan.amount > 0 else "amount 0"
            if scope == "global" and plan.amount == 0:
                why = "no channel under the global threshold"
            if n % plan.ch_groups:
                why = "its channel groups do not split evenly"
            elif round_to > 1 and round(plan.amount * n) > 0:
                why = f"--round-to {round_to} keeps all {n} channels"
            kept.update({name: why for name in plan.convs if name not in kept})
            continue
        group = graph.get_pruning_group(plan.root, plan.handler, idxs)
        for dep, own in group:
            if isinstance(dep.target.module, nn.Conv2d) and graph.is_out_channel_pruning_fn(dep.handler):
                removed[by_module[dep.target.module]] = sorted(int(i) for i in own)
        if not graph.check_pruning_group(group):
            raise InputError(
                f"layer {plan.convs[0]}: Torch-Pruning would leave a coupled layer with no channel"
            )
        group.prune()
        check_pruned(model, example, reference, plan.convs[0])
        cut += 1
    targets = {n: p.amount for p in plans for n in p.convs}
    layers = _records(widths_before, _widths(model), kept, targets, removed)
    return ChannelResult(
        layers, [by_module[m] for m in kept_out], params_before, count_params(model), cut, notes
    )


def _cuttable_groups(graph, outputs, kept_out, excluded_mods, by_module, kept) -> list:
    """(group, its out-channel convs as (module, idxs, root idxs), their names) per coupled
    group that may be cut; ``kept`` gets why the others' convs keep their channels."""
    found = []
    ignored = [m for m in kept_out if isinstance(m, nn.Conv2d)] + list(excluded_mods)
    for group in graph.get_all_groups(ignored_layers=ignored, root_module_types=[nn.Conv2d]):
        convs = [(d.target.module, idxs, root) for (d, idxs), root in zip(group, _roots(group))]
        out_convs = [
            (m, i, r)
            for (m, i, r), (d, _) in zip(convs, group)
            if isinstance(m, nn.Conv2d) and graph.is_out_channel_pruning_fn(d.handler)
        ]
        group_names = [by_module[m] for m, _, _ in out_convs]
        touches_excluded = [by_module[m] for m, _, _ in convs if m in excluded_mods]
        why = channel_graph.uncuttable(graph, group, outputs)
        if touches_excluded:
            why = f"feeds excluded layer {touches_excluded[0]}"
        if why:
            kept.update({n: why for n in group_names if n not in kept})
            continue
        found.append((group, out_convs, group_names))
    return found


def channel_groups(model, input_shape: tuple[int, ...], exclude: str | None = None) -> list[list[str]]:
    """The Conv2d layers of each coupled group ``prune_channels`` may cut, in module order: the
    layers that lose the same output channels (a recipe's amount for a group is the smallest
    it gives these layers, so tuning gives them one amount). The model is left as it was."""
    refuse_graph_models(model, "model")
    _, excluded, _ = partition_convs(model, exclude)
    example = torch.randn(*input_shape, generator=torch.Generator().manual_seed(0))
    graph, out_fns, _ = channel_graph.trace(model, example)
    outputs = set(channel_graph.output_nodes(graph, out_fns))
    kept_out = channel_graph.output_layers(graph, out_fns)
    by_module = {m: n for n, m in model.named_modules()}
    excluded_mods = {m for n, m in model.named_modules() if n in {layer for layer, _ in excluded}}
    found = _cuttable_groups(graph, outputs, kept_out, excluded_mods, by_module, {})
    order = {name: i for i, name in enumerate(by_module.values())}
    groups = [sorted(set(names), key=order.__getitem__) for _, _, names in found if names]
    return sorted(groups, key=lambda g: order[g[0]])


def _roots(group) -> list:
    return [getattr(item, "root_idxs", item.idxs) for item in group]


def _plan(group, out_convs, names, graph, amount, layer_amounts) -> _Plan:
    root = group[0].dep.target.module
    n = root.out_channels
    scores, sizes = np.zeros(n), np.zeros(n)
    for (m, idxs, roots), name in zip(out_convs, names):
        if max(idxs, default=0) >= m.out_channels or max(roots, default=0) >= n:
            raise InputError(
                f"layer {name}: Torch-Pruning maps its output channels out of range (a split or chunk"
                f" of its channels it cannot follow, as in YOLOv8's C2f); --exclude '^{re.escape(name)}$'"
                " or use --structure unstructured"
            )
        w = m.weight.detach().float()
        l1 = w.abs().sum(dim=(1, 2, 3)).cpu().numpy()
        if not np.isfinite(l1).all():
            raise InputError(f"{names[0]}: weight contains NaN or Inf; magnitude pruning is undefined")
        scores[roots] += l1[idxs]
        sizes[roots] += w[0].numel()
    ch_groups = 1
    for d, _ in group:
        m = d.target.module
        if d.target.type == OPTYPE.CONV and isinstance(m, nn.Conv2d) and m.groups > 1:
            ch_groups = max(ch_groups, m.groups)
    own = [layer_amounts.get(n, amount) for n in names] if layer_amounts else [amount]
    return _Plan(root, group[0].dep.handler, names, scores, sizes, ch_groups, min(own))


def _global_amounts(plans: list[_Plan], amount: float) -> None:
    """One threshold over every channel's mean |w|; each group's amount is what fell under it."""
    if not plans:
        return
    flat = np.concatenate([p.scores / np.maximum(p.sizes, 1) for p in plans])
    picked = np.zeros(flat.size, dtype=bool)
    picked[np.argsort(flat, kind="stable")[: round(amount * flat.size)]] = True
    start = 0
    for p in plans:
        n = p.scores.size
        p.amount = float(picked[start : start + n].sum()) / n
        start += n


def _select(plan: _Plan, round_to: int) -> list[int]:
    """The root channel indices to remove (see the module docstring)."""
    n, ch = plan.scores.size, plan.ch_groups
    if n % ch:
        return []
    kept = n - round(plan.amount * n)
    if round_to > 1:
        kept = max(round_to, round(kept / round_to) * round_to)
    kept = min(n, max(1, kept))
    per = n // ch
    kept_per = max(1, round(kept / ch))
    position = plan.scores.reshape(ch, per).mean(axis=0)
    drop = np.argsort(position, kind="stable")[: per - kept_per]
    return sorted(int(p + g * per) for g in range(ch) for p in drop)


def check_pruned(model, example, reference: list, layer: str) -> None:
    """After cutting ``layer``'s group the model still runs and gives outputs of the same
    shapes: Torch-Pruning followed every coupling. Otherwise InputError (exit 3) names it."""
    hint = f"--exclude '^{re.escape(layer)}$' or use --structure unstructured"
    try:
        _, outs = probe(model, example)
    except InputError as e:
        raise InputError(
            f"layer {layer}: Torch-Pruning could not follow a coupling of its output channels ({e}); {hint}"
        ) from None
    for i, (a, b) in enumerate(zip(outs, reference)):
        if a.shape != b.shape:
            raise InputError(
                f"layer {layer}: cutting its channels changed output {i} from {list(b.shape)} to"
                f" {list(a.shape)}; {hint}"
            )


def _records(before: dict, after: dict, kept: dict, targets: dict, removed: dict) -> list[dict]:
    """Per Conv2d/Linear: widths before and after, the group's amount, why it kept its
    channels (or None), and which output channels went (indices into the original layer)."""
    rows = []
    for name, (kind, out_b, in_b) in before.items():
        _, out_a, in_a = after[name]
        rows.append(
            {
                "name": name,
                "kind": kind,
                "out_before": out_b,
                "out_after": out_a,
                "in_before": in_b,
                "in_after": in_a,
                "target": targets.get(name),
                "kept": kept.get(name),
                "removed": removed.get(name, []),
            }
        )
    return rows
