"""Sweep pruning amounts, and find the largest amount within an accuracy budget.

A ``Tuner`` loads the model and the evaluation data once, keeps the dense weights and
the dense model's outputs, and per amount only restores the weights, prunes, and runs
the pruned model: a sweep of ten amounts costs one load and eleven forward passes.
Artifact sizes are those of the files the real exporters (``pipeline.export``) write in a
temp directory, with model.onnx exported twice per sweep rather than per amount and
rendered for the other amounts where proven byte-identical (``tuning.graph_reuse``).
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from secateurs import files, threads
from secateurs.config import RunConfig, check_amount
from secateurs.errors import UsageError
from secateurs.evaluation import judge, metrics
from secateurs.evaluation.data import load_eval_data
from secateurs.exporters.common.opsets import DEFAULT_OPSET
from secateurs.exporters.onnx_model_torch import resolve_exporter
from secateurs.model.conv_targets import find_conv_weights
from secateurs.model.load import load_model
from secateurs.model.prune import prove_weights_used, prune_model
from secateurs.progress import SILENT, Progress
from secateurs.report import html, markdown
from secateurs.report.tuning import plots_page, sweep_blocks
from secateurs.tuning.config import SweepConfig
from secateurs.tuning.graph_reuse import GraphReuse
from secateurs.tuning.plots import plot_sweep

SCHEMA = "secateurs.sweep/1"
LABEL_METRICS = ("accuracy", "macro_precision", "macro_recall")
AGREEMENT_METRICS = ("top1_agreement", "top5_agreement", "cosine", "snr_db")


class Tuner:
    """The dense model, its outputs and the data, loaded once and shared by every probe.

    Without ``eval_spec`` there is no data: ``evaluate`` gives sparsity only (a size curve).
    """

    def __init__(
        self,
        model: str,
        eval_spec: str | None = None,
        weights: Path | None = None,
        input_shape: tuple[int, ...] | None = None,
        trust: bool = False,
        scope: str = "layer",
        exclude: str | None = None,
        exporter: str = "auto",
        seed: int = 0,
        opset: int = DEFAULT_OPSET,
    ) -> None:
        self.model, self.info = load_model(model, weights, input_shape, trust)
        targets, _ = find_conv_weights(self.model, exclude)
        prove_weights_used(self.model, {t.layer: t.weight for t in targets}, self.info.input_shape)
        self.data = load_eval_data(eval_spec, self.info.input_shape, seed) if eval_spec else None
        self.scope, self.exclude, self.exporter, self.opset = scope, exclude, exporter, opset
        self._dense_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.dense_scores = judge.torch_scores(self.model, self.data.inputs) if self.data else None
        self._pruned_as = None  # (amount, scope, exclude) the model currently holds
        self._records: list = []
        self._results: dict[tuple, dict] = {}
        self.graph = GraphReuse()  # model.onnx exported once, rendered per amount

    @classmethod
    def from_config(cls, cfg) -> Tuner:
        """A Tuner for a SweepConfig, SensitivityConfig or RunConfig (whose fields it shares)."""
        return cls(
            cfg.model,
            cfg.eval,
            cfg.weights,
            cfg.input_shape,
            cfg.trust_model_code,
            getattr(cfg, "scope", "layer"),
            cfg.exclude,
            getattr(cfg, "exporter", "auto"),
            cfg.seed,
            getattr(cfg, "opset", DEFAULT_OPSET),
        )

    @property
    def labelled(self) -> bool:
        return self.data is not None and self.data.labels is not None

    def dense_metrics(self) -> dict:
        """Label metrics of the dense model (empty without labels)."""
        if not self.labelled:
            return {}
        n = max(self.dense_scores.shape[1], int(self.data.labels.max()) + 1)
        d = metrics.classification(self.dense_scores, self.data.labels, n)
        return {k: d[k] for k in LABEL_METRICS}

    def prune(self, amount: float, scope: str | None = None, exclude: str | None = None) -> list:
        """Put the dense weights back, then prune them to ``amount``; no-op if already there."""
        key = (amount, scope or self.scope, exclude if exclude is not None else self.exclude)
        if key != self._pruned_as:
            self._restore_dense()
            self._records, _ = prune_model(self.model, amount, key[1], key[2])
            self._pruned_as = key
        return self._records

    def prune_layers(self, layer_amounts: dict[str, float]) -> list:
        """Put the dense weights back, then prune only the listed layers, each to its amount."""
        self._restore_dense()
        records, _ = prune_model(self.model, 0.0, "layer", self.exclude, layer_amounts=layer_amounts)
        return records

    def evaluate(self, amount: float, scope: str | None = None, exclude: str | None = None) -> dict:
        """{amount, sparsity, metrics, deltas} of the model pruned to ``amount`` (cached)."""
        key = (check_amount(amount), scope or self.scope, exclude if exclude is not None else self.exclude)
        if key not in self._results:
            records = self.prune(*key)
            result = {}
            if self.data is not None:
                scores = judge.torch_scores(self.model, self.data.inputs)
                result = metrics.compare(self.dense_scores, scores, self.data.labels)
            self._results[key] = summarize(amount, records, result)
        return dict(self._results[key])

    def artifact_sizes(
        self, amount: float, scope: str | None = None, exclude: str | None = None
    ) -> tuple[dict[str, int], str]:
        """(bytes of every artifact file at ``amount``, how model.onnx was written: see ``export``)."""
        with tempfile.TemporaryDirectory(prefix="secateurs-sweep-") as tmp:
            artifacts, how = self.export(amount, Path(tmp), scope, exclude)
            return {a.path.name: a.size for a in artifacts.values()}, how

    def export(
        self, amount: float, directory: Path, scope: str | None = None, exclude: str | None = None
    ) -> tuple[dict, str]:
        """Write every artifact at ``amount`` into ``directory``, the files `secateurs run`
        writes; model.onnx is exported once per sweep and rendered per amount where that is
        proven byte-identical (``graph_reuse``). Returns (artifacts by format, "exported" or
        "rendered")."""
        cfg = RunConfig(
            model=self.info.spec, out=directory, amount=amount, exporter=self.exporter, opset=self.opset
        )
        info = replace(self.info, notes=[])
        if self.graph.wants_template():
            self._restore_dense()
            self.graph.build(cfg, self.model, info, self.exclude)
        records = self.prune(amount, scope, exclude)
        return self.graph.write(cfg, self.model, info, records, directory, f"amount {amount:g}")

    def _restore_dense(self) -> None:
        self.model.load_state_dict(self._dense_state)
        self._pruned_as = None  # the next prune() prunes again


def summarize(amount: float, records: list, result: dict) -> dict:
    """One sweep row from metrics.compare's result (per-class detail left out)."""
    numel = sum(r.numel for r in records)
    row = {
        "amount": amount,
        "sparsity": sum(r.zeros_after for r in records) / numel if numel else 0.0,
        "metrics": {k: v for k, v in result.get("agreement", {}).items() if k in AGREEMENT_METRICS},
        "deltas": {},
    }
    if "pruned" in result:
        row["metrics"].update({k: result["pruned"][k] for k in LABEL_METRICS})
        row["deltas"] = {k: result["delta"][k] for k in LABEL_METRICS}
    return row


def sweep(tuner: Tuner, amounts, sizes: bool = True, advance=None) -> list[dict]:
    """One row per amount: sparsity, metrics with deltas, and (``sizes``) artifact bytes.

    ``advance(detail)`` is called after each amount (``Progress.steps``)."""
    rows = []
    for amount in amounts:
        t0 = time.perf_counter()
        row = tuner.evaluate(amount)
        if sizes:
            row["sizes"], row["model_onnx"] = tuner.artifact_sizes(amount)
        row["seconds"] = round(time.perf_counter() - t0, 3)
        rows.append(row)
        if advance:
            advance(f"amount {amount:g}")
    return rows


def run_sweep(cfg: SweepConfig, directory: Path, progress: Progress = SILENT) -> dict:
    """`secateurs sweep`: prune at every amount, write sweep.json, sweep.md, sweep.png and
    report.html into ``directory`` (a staging directory: the caller promotes it), and
    return sweep.json's content (schema ``secateurs.sweep/1``).

    Raises UsageError for a budget the data cannot judge, and every load error of ``run``.
    """
    t0 = time.perf_counter()
    threads.apply(cfg.threads)
    progress.line(f"loading {cfg.model}")
    tuner = Tuner.from_config(cfg)
    if cfg.max_accuracy_drop is not None:
        check_budget(tuner, cfg.max_accuracy_drop, None)
    t_load = time.perf_counter() - t0
    with progress.steps(len(cfg.amounts), "sweep") as advance:
        rows = sweep(tuner, cfg.amounts, advance=advance)
    if cfg.has_budget:
        for r in rows:
            r["within_budget"] = within_budget(r, cfg.max_accuracy_drop, cfg.min_agreement)
    timings = {"load_and_dense": round(t_load, 3), "total": round(time.perf_counter() - t0, 3)}
    doc = document(cfg, tuner, rows, timings)
    blocks = sweep_blocks(doc)
    files.write_json(directory / "sweep.json", doc)
    files.write_text(directory / "sweep.md", markdown.body(blocks) + "\n")
    png = directory / "sweep.png"
    plot_sweep(rows, png, doc["dense"], cfg.max_accuracy_drop, cfg.min_agreement)
    page = plots_page(
        f"secateurs sweep: {cfg.model}",
        blocks,
        {"sweep.png: quality and artifact sizes against the amount": png.read_bytes()},
    )
    files.write_text(directory / "report.html", html.render(page))
    return doc


def document(cfg: SweepConfig, tuner: Tuner, rows: list[dict], timings: dict) -> dict:
    """sweep.json's content; non-finite numbers (an SNR of inf) are written as strings by files.write_json."""
    within = [r["amount"] for r in rows if r.get("within_budget")]
    data = tuner.data
    return {
        "schema": SCHEMA,
        "model": tuner.info.spec,
        "input_shape": list(tuner.info.input_shape),
        "scope": cfg.scope,
        "exclude": cfg.exclude,
        "exporter": resolve_exporter(cfg.exporter, tuner.info.source),
        "opset": cfg.opset,
        "eval": None if data is None else {"data": data.source, "samples": data.n, "labels": tuner.labelled},
        "dense": tuner.dense_metrics(),
        "budget": {"max_accuracy_drop": cfg.max_accuracy_drop, "min_agreement": cfg.min_agreement},
        "largest_amount_within_budget": max(within) if within else None,
        "rows": rows,
        "notes": list(tuner.graph.notes),  # where model.onnx was exported afresh, and why
        "timings_s": timings,
    }


def check_budget(tuner: Tuner, max_accuracy_drop: float | None, min_agreement: float | None) -> None:
    if max_accuracy_drop is None and min_agreement is None:
        raise UsageError("give a budget: --max-accuracy-drop X or --min-agreement Y")
    if tuner.data is None:
        raise UsageError("a budget needs --eval DATA")
    if max_accuracy_drop is not None and not tuner.labelled:
        raise UsageError(f"--max-accuracy-drop needs labelled data; {tuner.data.source} has no labels")


def within_budget(row: dict, max_accuracy_drop: float | None, min_agreement: float | None) -> bool:
    ok = True
    if max_accuracy_drop is not None:
        ok = ok and -row["deltas"]["accuracy"] <= max_accuracy_drop + 1e-12
    if min_agreement is not None:
        agree = row["metrics"].get("top1_agreement")
        ok = ok and agree is not None and agree >= min_agreement
    return ok


def auto_amount(
    tuner: Tuner,
    max_accuracy_drop: float | None = None,
    min_agreement: float | None = None,
    resolution: float = 0.01,
) -> tuple[float, list[dict]]:
    """The largest amount on a ``resolution`` grid over [0, 1] within the budget, by bisection.

    Assumes the metric gets no better as the amount grows (monotone), which magnitude
    pruning makes likely but not certain; a non-monotone model may hide a larger good
    amount. Judges the pruned PyTorch model; the run at the chosen amount re-checks
    the gate on model.onnx too. Returns (amount, probes in the order run).
    """
    check_budget(tuner, max_accuracy_drop, min_agreement)
    steps = round(1 / resolution) if math.isfinite(resolution) and 0 < resolution <= 1 else 0
    if steps < 1 or abs(steps * resolution - 1) > 1e-9:
        raise UsageError(f"resolution must divide 1 (e.g. 0.01), got {resolution}")
    probes: list[dict] = []

    def ok(step: int) -> bool:
        row = tuner.evaluate(round(step / steps, 10))
        row["within_budget"] = within_budget(row, max_accuracy_drop, min_agreement)
        probes.append(row)
        return row["within_budget"]

    lo, hi = 0, steps  # invariant: lo is within budget (amount 0 changes nothing); hi is not
    if ok(hi):
        return 1.0, probes
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return round(lo / steps, 10), probes


def auto_amount_for(cfg: RunConfig, resolution: float = 0.01) -> tuple[float, list[dict]]:
    """``secateurs run --auto``: the amount for a RunConfig's model, data, scope and budget."""
    if not cfg.eval:
        raise UsageError("--auto needs --eval DATA")
    return auto_amount(Tuner.from_config(cfg), cfg.max_accuracy_drop, cfg.min_agreement, resolution)
