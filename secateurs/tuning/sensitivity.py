"""Per-layer sensitivity: prune one Conv2d at a time and measure what it costs.

The model, the data and the dense outputs are loaded once (a ``Tuner``); every probe only
restores the dense weights, prunes, and evaluates the pruned model on the data. The drop is
that of one metric (``SensitivityConfig``): a classifier's accuracy drop with labels, else
1 - top-1 agreement with the dense model; a detector's mAP50 drop; or the budget's metric.
With a budget, ``build_recipe`` turns the drops into per-layer amounts and verifies the
combined recipe on the data, so the recipe's reported drop is measured, never estimated.

On an executor other than ``local`` (``--executor ray``) the layer x amount table runs as
one task per cell, the Probe shared once. The recipe search stays in this process, one
measurement after another: each step depends on every choice before it.
With ``--structure channels`` a probe cuts channels (``Tuner``), and the unit probed is a
coupled group (``channels.channel_groups``: convs whose outputs are added lose the same
channels, and a group's amount is the smallest it gives its convs, so probing one member
alone would cut nothing). A group is named by its first conv; the recipe lists every member
with the group's amount, which `run --recipe --structure channels` reads as it is.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from secateurs import files, threads
from secateurs.errors import UsageError
from secateurs.executors import Executor, unwrap
from secateurs.model.channels import channel_groups
from secateurs.model.conv_targets import find_conv_weights
from secateurs.model.recipe import write_recipe
from secateurs.progress import SILENT, Progress
from secateurs.report import html
from secateurs.report.tuning import plots_page, sensitivity_blocks
from secateurs.tuning.config import SensitivityConfig
from secateurs.tuning.plots import png_figure
from secateurs.tuning.sweep import auto_amount
from secateurs.tuning.tuner import Tuner, drop_of

SCHEMA = "secateurs.sensitivity/1"
RECIPE_STEP = 0.05  # recipe amounts lie on this grid (plus the swept amounts)


class Probe:
    """A Tuner's model, data and dense outputs, pruned by per-layer amounts on demand.

    ``metric`` is the drop measured: "accuracy" or "agreement" (1 - top-1 agreement) on a
    classifier, or a --max-drop metric name; None takes the data's default (a classifier's
    accuracy with labels, else agreement; a detector's mAP50).
    """

    def __init__(self, tuner: Tuner, metric: str | None = None) -> None:
        self.tuner = tuner
        chosen, _ = find_conv_weights(tuner.model, tuner.exclude)
        if not chosen:
            raise UsageError(f"{tuner.info.spec}: no Conv2d layers to probe")
        numel = {c.layer: int(c.weight.numel()) for c in chosen}
        groups = [[c.layer] for c in chosen]
        if tuner.structure == "channels":
            groups = channel_groups(tuner.dense_model, tuner.info.input_shape, tuner.exclude)
            if not groups:
                raise UsageError(f"{tuner.info.spec}: no Conv2d channels may be cut (every group is kept)")
        if metric is None:
            metric = "mAP50" if tuner.task == "detect" else "accuracy" if tuner.labelled else "agreement"
        tuner.check_budgets([(metric, 0.0)])
        self.layers = [g[0] for g in groups]
        self.members = {g[0]: g for g in groups}  # channels: the convs cut with each group
        self.numel = [sum(numel.get(n, 0) for n in g) for g in groups]
        self.key = metric
        self.labelled = tuner.labelled and metric != "agreement"
        self.metric = describe(metric, tuner.task, tuner.labelled)
        self.evaluations = 0

    def measure(self, layer_amounts: dict[str, float]) -> tuple[float, float]:
        """(drop, sparsity over the conv weights) with these amounts and 0 elsewhere."""
        t = self.tuner
        row = t.judge(0.0, t.prune_layers(self.expand(layer_amounts)))
        self.evaluations += 1
        drop = drop_of(row, self.key)
        if drop is None:
            raise UsageError(f"{t.data.source}: sensitivity needs [N, classes] outputs to compare top-1")
        return drop, row["sparsity"]

    def expand(self, layer_amounts: dict[str, float]) -> dict[str, float]:
        """Each probed unit's amount given to every conv of its group (one conv per unit
        unless channels)."""
        return {m: a for name, a in layer_amounts.items() for m in self.members.get(name, [name])}


def describe(metric: str, task: str | None, labelled: bool) -> str:
    """How a Probe's drop reads in the report: "accuracy drop", "mAP50 drop", ..."""
    if metric == "agreement":
        return "1 - top-1 agreement"
    if task == "detect" and not labelled:
        return f"{metric} drop (1 - {metric} against the dense model's detections)"
    return f"{'macro ' if task != 'detect' and metric != 'accuracy' else ''}{metric} drop"


def sensitivity(
    probe: Probe, amounts, advance=None, executor: Executor | None = None, task_threads: int = 1
) -> list[list[float]]:
    """drop[layer][amount], each layer pruned alone; ``advance(detail)`` after each probe.
    A non-local ``executor`` measures each cell as a task of ``task_threads`` threads."""
    if executor is not None and executor.name != "local":
        cells = [(layer, a, task_threads) for layer in probe.layers for a in amounts]
        done = (lambda i, _r: advance(f"{cells[i][0]} @ {cells[i][1]:g}")) if advance else None
        drops = unwrap(executor.map(_cell, cells, executor.share(probe), task_threads, done))
        probe.evaluations += len(cells)
        n = len(amounts)
        return [drops[i : i + n] for i in range(0, len(drops), n)]
    rows = []
    for layer in probe.layers:
        row = []
        for a in amounts:
            row.append(round(probe.measure({layer: a})[0], 10) + 0.0)  # no -0.0
            if advance:
                advance(f"{layer} @ {a:g}")
        rows.append(row)
    return rows


def _cell(probe: Probe, cell: tuple) -> float:
    """One layer pruned alone at one amount, on a task's copy of the Probe: its drop."""
    layer, amount, task_threads = cell
    threads.apply(task_threads)
    return round(probe.measure({layer: amount})[0], 10) + 0.0  # no -0.0


def build_recipe(probe: Probe, drops, amounts, budget: float, advance=None, floor: float = 0.0) -> dict:
    """Per-layer amounts within ``budget``, greedy on weights removed per unit of drop.

    Every layer starts at ``floor`` (0, or the largest uniform amount measured within the
    budget, ``uniform_within``, when the greedy search from 0 removed less than that).
    Layers go in order of numel / (area under their drop curve): big robust layers first.
    Each layer's amount is the largest on the grid whose *combined* drop (with every
    layer chosen so far) stays within the budget, found by bisection; every accepted
    state was measured. Sensitive layers come last and get what budget is left.
    """
    top = max(amounts)
    grid = sorted({round(x, 4) for x in np.arange(0.0, top + 1e-9, RECIPE_STEP)} | set(amounts) | {floor})
    start = grid.index(floor)
    eps = 0.5 / probe.tuner.data.n  # half a sample: a drop-free layer is cheap, not free
    area = [sum(max(d, 0.0) for d in row) for row in drops]
    order = sorted(range(len(probe.layers)), key=lambda i: -probe.numel[i] / (area[i] + eps))
    chosen = {name: floor for name in probe.layers}
    state = (0.0, 0.0)
    if floor > 0:  # measured as the recipe measures; a floor over the budget starts from 0
        state = probe.measure(chosen)
        if state[0] > budget + 1e-12:
            chosen, start, state = {name: 0.0 for name in probe.layers}, 0, (0.0, 0.0)
    for i in order:
        name, lo, hi = probe.layers[i], start, len(grid)  # grid[lo] accepted, grid[hi:] not
        while hi - lo > 1:
            mid = len(grid) - 1 if hi == len(grid) else (lo + hi) // 2  # try the largest first
            trial = probe.measure({**chosen, name: grid[mid]})
            if trial[0] <= budget + 1e-12:
                lo, state = mid, trial
            else:
                hi = mid
        chosen[name] = grid[lo]
        if advance:
            advance(f"{name} -> {grid[lo]:g}")
    drop, sparsity = probe.measure(chosen)  # verify the whole recipe once more
    if drop > budget + 1e-12:  # a forward pass is deterministic; this guards the contract
        raise RuntimeError(f"recipe drop {drop} exceeds budget {budget} after search (last {state[0]})")
    found = {"layers": chosen, "drop": drop, "sparsity": sparsity}
    if getattr(probe.tuner, "channels", None) is not None:  # the model as the recipe cut it
        found["params"] = probe.tuner.channels.params_after
    return found


def pick_recipe(
    probe: Probe, drops, amounts, budget: float, uniform: dict, progress: Progress = SILENT
) -> dict:
    """The greedy recipe from 0; where it removes less than ``uniform`` (the greedy order can
    spend the budget badly), the search again from the uniform amount, and the better of the two."""
    with progress.steps(len(probe.layers), "recipe") as advance:
        recipe = build_recipe(probe, drops, amounts, budget, advance)
    if removes_less(recipe, uniform) and uniform["amount"] > 0:
        with progress.steps(len(probe.layers), "recipe from the uniform amount") as advance:
            seeded = build_recipe(probe, drops, amounts, budget, advance, floor=uniform["amount"])
        recipe = seeded if removes_less(recipe, seeded) else recipe
    return recipe


def removes_less(found: dict, other: dict) -> bool:
    """``found`` (a recipe or uniform result) leaves more of the model than ``other``: more
    parameters where channels were cut, else a lower sparsity."""
    if "params" in found and "params" in other:
        return found["params"] > other["params"]
    return found["sparsity"] < other["sparsity"]


def uniform_within(probe: Probe, budget: float) -> dict:
    """The largest single amount (0.01 grid, bisection) within the same budget."""
    amount, probes = auto_amount(probe.tuner, [(probe.key, budget)], resolution=0.01)
    row = probe.tuner.evaluate(amount)
    probe.evaluations += len(probes)
    found = {"amount": amount, "drop": drop_of(row, probe.key), "sparsity": row["sparsity"]}
    return found | ({"params": row["params"]} if "params" in row else {})


def run_sensitivity(
    cfg: SensitivityConfig, directory: Path, progress: Progress = SILENT, executor: Executor | None = None
) -> dict:
    """`secateurs sensitivity`: the drop of every layer pruned alone at every amount, written
    as sensitivity.json, sensitivity.png and report.html into ``directory`` (a staging
    directory: the caller promotes it); with a budget also recipe.json (per-layer amounts
    whose combined drop was measured within it) and the uniform amount within the same
    budget. Returns sensitivity.json's content (schema ``secateurs.sensitivity/1``).

    Raises UsageError for a model without Conv2d to probe or data that cannot judge the
    budget, and every load error of ``run``. ``executor`` (default local) runs the table's
    cells; ``cfg.threads`` is then each task's, and the recipe search runs here.
    """
    t0 = time.perf_counter()
    threads.apply(cfg.threads if executor is None or executor.name == "local" else None)
    progress.line(f"loading {cfg.model}")
    probe = Probe(Tuner.from_config(cfg), cfg.metric)
    amounts, budget = cfg.amounts, cfg.budget
    with progress.steps(len(probe.layers) * len(amounts), "sensitivity") as advance:
        drops = sensitivity(probe, amounts, advance, executor, cfg.threads or 1)
    data = {
        "schema": SCHEMA,
        "model": cfg.model,
        "data": probe.tuner.data.source,
        "samples": probe.tuner.data.n,
        "metric": probe.metric,
        "amounts": list(amounts),
        "layers": probe.layers,
        "numel": probe.numel,
        "drop": drops,
        "sweep_seconds": round(time.perf_counter() - t0, 3),
    }
    if cfg.structure == "channels":
        data["structure"] = {"structure": "channels", "round_to": cfg.round_to}
        data["groups"] = {name: members for name, members in probe.members.items() if len(members) > 1}
    if budget is not None:
        uniform = uniform_within(probe, budget)
        recipe = pick_recipe(probe, drops, amounts, budget, uniform, progress)
        data.update(budget=budget, budget_option=cfg.budget_options()[0], recipe=recipe, uniform=uniform)
        meta = {"model": cfg.model, "data": data["data"], "metric": probe.metric, "budget": budget}
        meta.update(measured_drop=recipe["drop"], sparsity=recipe["sparsity"], uniform=uniform)
        meta.update(structure=cfg.structure)
        if cfg.structure == "channels":
            meta.update(round_to=cfg.round_to)
        write_recipe(directory / "recipe.json", probe.expand(recipe["layers"]), default=0.0, **meta)
    data["evaluations"] = probe.evaluations
    data["seconds"] = round(time.perf_counter() - t0, 3)
    files.write_json(directory / "sensitivity.json", data)
    png = directory / "sensitivity.png"
    plot_heatmap(data, png)
    page = plots_page(
        f"secateurs sensitivity: {cfg.model}",
        sensitivity_blocks(data),
        {"sensitivity.png: each layer's drop (points) when pruned alone, per amount": png.read_bytes()},
    )
    files.write_text(directory / "report.html", html.render(page))
    return data


def plot_heatmap(data: dict, path: Path) -> None:
    """Layers x amounts, colour = drop, each cell annotated; written atomically."""
    drops = np.asarray(data["drop"], dtype=float) * 100
    rows, cols = drops.shape
    with png_figure(path, figsize=(1.3 * cols + 4, 0.35 * rows + 1.8)) as (fig, ax):
        image = ax.imshow(drops, cmap="Reds", aspect="auto", vmin=min(0.0, drops.min()))
        ax.set_xticks(range(cols), [f"{a:g}" for a in data["amounts"]])
        ax.set_yticks(range(rows), [f"{n} ({k})" for n, k in zip(data["layers"], data["numel"])])
        ax.set_xlabel("amount (this layer only)")
        ax.set_title(f"{data['model']} on {data['data']}: {data['metric']} (points)")
        for r in range(rows):
            for c in range(cols):
                dark = drops[r, c] > 0.6 * max(drops.max(), 1e-9)
                ax.text(
                    c,
                    r,
                    f"{drops[r, c]:.1f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if dark else "black",
                )
        fig.colorbar(image, ax=ax, label="drop (points)")
