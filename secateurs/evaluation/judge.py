"""Score a model over evaluation data (PyTorch or onnxruntime) and judge the accuracy gates."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from secateurs.config import EVAL_RANDOM
from secateurs.errors import InputError, UsageError
from secateurs.model.outputs import named_outputs
from secateurs.validators.onnxruntime_run import session

BATCH = 64


def gates(cfg, results: dict) -> list[dict]:
    """Every budget (--max-accuracy-drop, --min-agreement, --max-drop) on every judged model."""
    checks = []
    for judged, r in results.items():
        for metric, limit in cfg.max_drop:
            drop = _drop(r, metric)
            ok = drop is not None and drop <= limit
            checks.append(_gate(judged, f"{metric} drop", drop, limit, ok, "<="))
        if cfg.max_accuracy_drop is not None and "delta" in r:
            drop = -r["delta"]["accuracy"]
            checks.append(
                _gate(
                    judged, "accuracy drop", drop, cfg.max_accuracy_drop, drop <= cfg.max_accuracy_drop, "<="
                )
            )
        if cfg.min_agreement is not None:
            value = r["agreement"].get("top1_agreement")
            ok = value is not None and value >= cfg.min_agreement
            checks.append(_gate(judged, "top-1 agreement", value, cfg.min_agreement, ok, ">="))
    return checks


def _drop(result: dict, metric: str) -> float | None:
    """dense - pruned of ``metric``: detection results carry it ("drop"); classification ones
    carry pruned - dense ("delta", with macro precision and recall), undefined without labels."""
    if "drop" in result:
        return result["drop"][metric]
    key = {"precision": "macro_precision", "recall": "macro_recall"}.get(metric, metric)
    return -result["delta"][key] if "delta" in result else None


def _gate(judged: str, metric: str, value, limit: float, passed: bool, op: str) -> dict:
    if value is None:
        detail = f"{metric} undefined (outputs are not [N, classes] scores)"
    elif passed:
        detail = f"{metric} {value:.4f} {op} {limit}"
    else:
        broke = "exceeds" if op == "<=" else "is below"
        detail = f"{metric} {value:.4f} {broke} the budget {limit} by {abs(value - limit):.4f}"
    return {
        "judged": judged,
        "metric": metric,
        "value": value,
        "limit": limit,
        "passed": passed,
        "detail": detail,
    }


def gates_passed(evaluation: dict | None) -> bool:
    return evaluation is None or all(g["passed"] for g in evaluation["gates"])


def torch_first_output(model) -> Callable[[np.ndarray], np.ndarray]:
    """A function of one input batch: ``model``'s first output (a nested output's first tensor),
    float32 numpy, in inference mode (no autograd records: 15% faster than no_grad on the
    builtin detector)."""

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return named_outputs(model(torch.from_numpy(x)))[1][0].detach().float().numpy()

    return per_sample_if_fixed(run, "the model")


def per_sample_if_fixed(
    run: Callable[[np.ndarray], np.ndarray], what: str
) -> Callable[[np.ndarray], np.ndarray]:
    """``run`` over a batch, or, once a batch of several inputs has failed where one input
    runs (a program exported at a fixed batch of 1, as torch.export and ONNX files often are),
    one input at a time from then on. Failing on one input too is an InputError (exit 3)."""
    single = [False]

    def adaptive(x: np.ndarray) -> np.ndarray:
        if not single[0]:
            try:
                return run(x)
            except Exception as e:  # the user's model or file: any failure is an input problem
                if len(x) == 1:
                    raise InputError(f"{what} failed on an input of shape {list(x.shape)}: {_line(e)}") from e
                try:
                    first = run(x[:1])
                except Exception:
                    raise InputError(
                        f"{what} failed on a batch of shape {list(x.shape)} and on one input: {_line(e)}"
                    ) from e
                single[0] = True
                return np.concatenate([first] + [run(x[i : i + 1]) for i in range(1, len(x))])
        return np.concatenate([run(x[i : i + 1]) for i in range(len(x))])

    return adaptive


def _line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[-1] if text else ''}"[:300]


def onnx_first_output(path, provider: str = "CPUExecutionProvider") -> Callable[[np.ndarray], np.ndarray]:
    """As ``torch_first_output``, for an ONNX file in one onnxruntime session (only its first
    output is computed)."""
    sess = session(path, provider)
    name, first = sess.get_inputs()[0].name, sess.get_outputs()[0].name
    return per_sample_if_fixed(lambda x: sess.run([first], {name: x})[0].astype(np.float32), str(path))


def torch_scores(model, inputs: np.ndarray, progress: Callable[[int], None] | None = None) -> np.ndarray:
    """The first output of ``model`` over ``inputs``, in batches."""
    run, parts = torch_first_output(model), []
    for start in range(0, len(inputs), BATCH):
        parts.append(run(inputs[start : start + BATCH]))
        if progress:
            progress(min(start + BATCH, len(inputs)))
    return np.concatenate(parts)


def onnx_scores(path, inputs: np.ndarray, provider: str = "CPUExecutionProvider") -> np.ndarray:
    run = onnx_first_output(path, provider)
    return np.concatenate([run(inputs[s : s + BATCH]) for s in range(0, len(inputs), BATCH)])


def check_unsaid_task(spec: str, task: str | None, scores: np.ndarray) -> None:
    """``random:N`` without --task is read as classification (outputs compared with the dense
    model's); a first output of rank 3, the shape of a detection head ((B, N, 5 + nc) or
    (B, 4 + nc, N)), makes that reading doubtful, so UsageError asks which was meant."""
    if task is None and EVAL_RANDOM.match(spec) and scores.ndim == 3:
        raise UsageError(
            f"--eval {spec}: the model's first output is {tuple(scores.shape)}, a detection head's shape;"
            " say what it is for: --task detect (label-free boxes) or --task classify (output agreement)"
        )
