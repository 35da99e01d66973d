"""The model, the data and the dense outputs, loaded once and judged at any amount.

Every tuning search (sweep, sensitivity, `run --auto`) asks one question many times: how much
worse is the model pruned like this? A ``Tuner`` loads the model and the evaluation data once,
keeps the dense weights and the dense model's outputs (classification: scores; detection: boxes
after NMS, and their labelled metrics), and per probe only restores the weights, prunes, and
runs the pruned PyTorch model. With ``structure="channels"`` a probe changes the architecture,
so restoring means a fresh deep copy of the dense model (kept once), whose channels are then
cut (``model.channels``); the layer names stay, so per-layer probes and recipes work alike,
and each row also carries the pruned model's parameters and MACs (``macs``). Each probe becomes one row (``summarize``), and budgets judge
rows by the drop of one metric each (``drop_of``, ``within_budget``), the same drops the gates
of `run` judge (``evaluation.judge.gates``).
"""

from __future__ import annotations

import copy
import tempfile
from dataclasses import replace
from pathlib import Path

from secateurs import files
from secateurs.config import DROP_METRICS, RunConfig, check_amount, check_structure, eval_task
from secateurs.errors import UsageError
from secateurs.evaluation import detect, detection_metrics, judge, metrics
from secateurs.evaluation.data import load_eval_data
from secateurs.evaluation.detection_data import load_detection_data
from secateurs.exporters import DENSE_ONNX
from secateurs.exporters.common.opsets import DEFAULT_OPSET
from secateurs.model.channels import count_params, prune_channels, refuse_graph_models
from secateurs.model.conv_targets import find_conv_weights
from secateurs.model.load import load_model
from secateurs.model.program import save_program
from secateurs.model.prune import prove_weights_used, prune_model
from secateurs.pipeline.export import export_artifacts
from secateurs.pipeline.prune import PROGRAM
from secateurs.tuning.graph_reuse import EXPORTED, GraphReuse

LABEL_METRICS = ("accuracy", "macro_precision", "macro_recall")
AGREEMENT_METRICS = ("top1_agreement", "top5_agreement", "cosine", "snr_db")
DETECT_METRICS = DROP_METRICS["detect"]
SIZES_TEMP = "secateurs-sweep-"  # artifact_sizes' temp directories: secateurs-sweep-<pid>-*
CLASSIFY_KEYS = {"precision": "macro_precision", "recall": "macro_recall"}  # --max-drop name -> row key


class Tuner:
    """The dense model, its outputs and the data, loaded once and shared by every probe.

    Without ``eval_spec`` there is no data: ``evaluate`` gives sparsity only (a size curve).
    ``task`` is None (from the data, as `run` decides), "classify" or "detect";
    ``box_format`` the detector output layout (None: from the output's shape).
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
        task: str | None = None,
        box_format: str | None = None,
        structure: str = "unstructured",
        round_to: int | None = None,
    ) -> None:
        self.model, self.info = load_model(model, weights, input_shape, trust)
        self.structure, self.round_to = structure, check_structure(structure, round_to) or 1
        if structure == "channels":
            refuse_graph_models(self.model, self.info.spec)
        targets, _ = find_conv_weights(self.model, exclude)
        prove_weights_used(self.model, {t.layer: t.weight for t in targets}, self.info.input_shape)
        self.task = eval_task(eval_spec, task) if eval_spec else None
        self.box_format = box_format
        self.scope, self.exclude, self.exporter, self.opset = scope, exclude, exporter, opset
        self._dense_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.dense_model = self.model  # channels: never pruned itself; each probe cuts a deep copy
        self._dense_numel = {t.layer: int(t.weight.numel()) for t in targets}
        self.channels = None  # channels: the last probe's ChannelResult
        self.data, self.dense_outputs, self._dense_detect = None, None, None
        if self.task == "detect":
            shape = self.info.input_shape
            if len(shape) != 4 or shape[1] != 3:
                raise UsageError(
                    f"--task detect needs a model taking 3-channel images (N,3,H,W), not {shape}"
                )
            self.data = load_detection_data(eval_spec, (shape[2], shape[3]), seed=seed)
            self.dense_outputs = detect.torch_detections(self.model, self.data, box_format)
            detect.check_reference(self.data, self.dense_outputs)
        elif eval_spec:
            self.data = load_eval_data(eval_spec, self.info.input_shape, seed)
            self.dense_outputs = judge.torch_scores(self.model, self.data.inputs)
            judge.check_unsaid_task(eval_spec, task, self.dense_outputs)
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
            cfg.task,
            cfg.box_format,
            getattr(cfg, "structure", "unstructured"),
            getattr(cfg, "round_to", None),
        )

    @property
    def labelled(self) -> bool:
        if self.data is None:
            return False
        return (self.data.boxes if self.task == "detect" else self.data.labels) is not None

    def dense_metrics(self) -> dict:
        """Label metrics of the dense model (empty without labels)."""
        if not self.labelled:
            return {}
        if self.task == "detect":
            return {k: self._dense_detection_metrics()[k] for k in DETECT_METRICS}
        n = max(self.dense_outputs.shape[1], int(self.data.labels.max()) + 1)
        d = metrics.classification(self.dense_outputs, self.data.labels, n)
        return {k: d[k] for k in LABEL_METRICS}

    def prune(self, amount: float, scope: str | None = None, exclude: str | None = None) -> list:
        """Put the dense weights back, then prune them to ``amount``; no-op if already there."""
        key = (amount, scope or self.scope, exclude if exclude is not None else self.exclude)
        if key != self._pruned_as:
            self._restore_dense()
            if self.structure == "channels":
                self._records = self._cut_channels(amount, key[1], key[2])
            else:
                self._records, _ = prune_model(self.model, amount, key[1], key[2])
            self._pruned_as = key
        return self._records

    def prune_layers(self, layer_amounts: dict[str, float]) -> list:
        """Put the dense weights back, then prune only the listed layers, each to its amount."""
        self._restore_dense()
        if self.structure == "channels":
            return self._cut_channels(0.0, "layer", self.exclude, layer_amounts)
        records, _ = prune_model(self.model, 0.0, "layer", self.exclude, layer_amounts=layer_amounts)
        return records

    def _cut_channels(self, amount: float, scope: str, exclude: str | None, layer_amounts=None) -> list:
        """Cut channels of the fresh copy in ``self.model``; the records are those `run` keeps
        (every remaining Conv2d weight, nothing zeroed)."""
        self.channels = prune_channels(
            self.model,
            self.info.input_shape,
            amount,
            scope,
            exclude,
            layer_amounts,
            self.round_to,
            self.info.spec,
        )
        records, _ = prune_model(self.model, 0.0, "layer", exclude, allow_noop=True)
        return records

    def judge(self, amount: float, records: list) -> dict:
        """The row (``summarize``) of the model as it is now, pruned as ``records`` say."""
        if self.data is None:
            return self._with_channels(summarize(amount, records, {}), records)
        if self.task == "detect":
            found = detect.torch_detections(self.model, self.data, self.box_format)
            dense = self._dense_detection_metrics() if self.labelled else None
            result = detect.score(self.data, self.dense_outputs, {"pytorch": found}, dense)["pytorch"]
        else:
            scores = judge.torch_scores(self.model, self.data.inputs)
            result = metrics.compare(self.dense_outputs, scores, self.data.labels)
        return self._with_channels(summarize(amount, records, result), records)

    def _with_channels(self, row: dict, records: list) -> dict:
        """Channels: the row's sparsity is the share of the dense prunable Conv2d weights
        removed, and it carries the pruned model's parameters and MACs (per sample)."""
        if self.structure != "channels":
            return row
        dense = sum(self._dense_numel.get(r.name, 0) for r in records)
        left = sum(r.numel for r in records if r.name in self._dense_numel)
        row["sparsity"] = 1.0 - left / dense if dense else 0.0
        row["params"] = count_params(self.model)
        row["macs"] = macs(self.model, self.info.input_shape)
        return row

    def dense_cost(self) -> dict:
        """{params, macs} of the dense model (MACs per sample, Conv2d and Linear only)."""
        return {
            "params": count_params(self.dense_model),
            "macs": macs(self.dense_model, self.info.input_shape),
        }

    def evaluate(self, amount: float, scope: str | None = None, exclude: str | None = None) -> dict:
        """{amount, sparsity, metrics, deltas} of the model pruned to ``amount`` (cached)."""
        key = (check_amount(amount), scope or self.scope, exclude if exclude is not None else self.exclude)
        if key not in self._results:
            self._results[key] = self.judge(amount, self.prune(*key))
        return dict(self._results[key])

    def artifact_sizes(
        self, amount: float, scope: str | None = None, exclude: str | None = None, timed=None
    ) -> tuple[dict[str, int], str]:
        """(bytes of every artifact file at ``amount``, how model.onnx was written: see ``export``).
        ``timed(model_onnx_path)`` runs on the written model.onnx before the files go."""
        with tempfile.TemporaryDirectory(prefix=files.pid_tagged_temp(SIZES_TEMP)) as tmp:
            artifacts, how = self.export(amount, Path(tmp), scope, exclude)
            if timed is not None:
                timed(artifacts[DENSE_ONNX].path)
            return {a.path.name: a.size for a in artifacts.values()}, how

    def export_dense(self, path: Path) -> None:
        """The dense model exported to ``path`` as the sweep exports model.onnx (exporter, opset):
        the denominator of its latency."""
        from secateurs.exporters.onnx_model_torch import export_onnx, resolve_exporter

        if self.structure != "channels":  # the model is pruned in place: put the dense weights back
            self._restore_dense()
        exporter = resolve_exporter(self.exporter, self.info.source)
        export_onnx(self.dense_model, self.info, path, exporter, False, self.opset)

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
        if self.structure == "channels":  # a new architecture per amount: no template to render
            cfg = replace(cfg, structure="channels", round_to=self.round_to)
            records = self.prune(amount, scope, exclude)
            artifacts = export_artifacts(cfg, self.model, info, records, directory)
            save_program(self.model, self.info.input_shape, directory / PROGRAM)
            return artifacts | {PROGRAM: _File(directory / PROGRAM)}, EXPORTED
        if self.graph.wants_template():
            self._restore_dense()
            self.graph.build(cfg, self.model, info, self.exclude)
        records = self.prune(amount, scope, exclude)
        return self.graph.write(cfg, self.model, info, records, directory, f"amount {amount:g}")

    def check_budgets(self, budgets) -> None:
        """UsageError for a budget (metric, drop) these data cannot judge."""
        if budgets and self.data is None:
            raise UsageError("a budget needs --eval DATA")
        for metric, _ in budgets:
            if metric == "agreement" and self.task == "detect":
                raise UsageError(
                    "--min-agreement judges classifiers; on a detector use --max-drop mAP50=VALUE"
                )
            if self.task != "detect" and metric != "agreement" and not self.labelled:
                flag = "--max-accuracy-drop" if metric == "accuracy" else f"--max-drop {metric}"
                raise UsageError(f"{flag} needs labelled data; {self.data.source} has no labels")

    def _dense_detection_metrics(self) -> dict:
        """The dense model's labelled detection metrics, scored once."""
        if self._dense_detect is None:
            gt = detect.truths(self.data)
            found = detection_metrics.evaluate(self.dense_outputs, gt, self.data.names)
            self._dense_detect = detect.as_dict(found)
        return self._dense_detect

    def _restore_dense(self) -> None:
        if self.structure == "channels":
            self.model = copy.deepcopy(self.dense_model)
        else:
            self.model.load_state_dict(self._dense_state)
        self._pruned_as = None  # the next prune() prunes again


class _File:
    """An artifact-like entry (path, size) for a file written beside the exporters' (model.pt2)."""

    def __init__(self, path: Path) -> None:
        self.path, self.size = path, path.stat().st_size


def macs(model, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one sample through the model's Conv2d and Linear layers (the
    rest is small beside them), counted by forward hooks on one forward pass of zeros."""
    import torch
    import torch.nn as nn

    total = [0]

    def count(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            per_out = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            total[0] += output.numel() * per_out
        else:
            total[0] += output.numel() * module.in_features

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            model(torch.zeros(*input_shape))
    finally:
        for h in hooks:
            h.remove()
    return total[0] // max(1, input_shape[0])


def summarize(amount: float, records: list, result: dict) -> dict:
    """One row: the amount, the sparsity over the pruned weights, the pruned model's metrics
    and their deltas (pruned - dense; per-class detail left out).

    ``result`` is ``metrics.compare``'s (classification) or one judged model's entry of
    ``detect.score`` (detection): labelled, the metrics are the pruned model's; label-free,
    the agreement metrics against the dense model's detections, with delta = -(1 - agreement).
    """
    numel = sum(r.numel for r in records)
    row = {
        "amount": amount,
        "sparsity": sum(r.zeros_after for r in records) / numel if numel else 0.0,
        "metrics": {},
        "deltas": {},
    }
    if "drop" in result:  # detection
        scored = result["pruned"] if "pruned" in result else result["agreement"]
        row["metrics"] = {k: scored[k] for k in DETECT_METRICS}
        row["deltas"] = {k: -result["drop"][k] + 0.0 for k in DETECT_METRICS}
        return row
    row["metrics"] = {k: v for k, v in result.get("agreement", {}).items() if k in AGREEMENT_METRICS}
    if "pruned" in result:
        row["metrics"].update({k: result["pruned"][k] for k in LABEL_METRICS})
        row["deltas"] = {k: result["delta"][k] for k in LABEL_METRICS}
    return row


def drop_of(row: dict, metric: str) -> float | None:
    """The row's drop in ``metric`` (a budget's name: "agreement" is 1 - top-1 agreement), or
    None where the row does not have it (no labels, outputs that are not [N, classes])."""
    if metric == "agreement":
        agree = row["metrics"].get("top1_agreement")
        return None if agree is None else 1.0 - agree
    deltas = row["deltas"]
    key = metric if metric in deltas else CLASSIFY_KEYS.get(metric)
    return -deltas[key] if key in deltas else None


def within_budget(row: dict, budgets) -> bool:
    """Whether every budget (metric, largest drop) holds for ``row``; an undefined drop fails."""
    for metric, limit in budgets:
        drop = drop_of(row, metric)
        if drop is None or drop > limit + 1e-12:
            return False
    return True
