"""Evaluation data: ``builtin:digits``, a ``.npz`` with ``inputs`` (and ``labels``), or ``random:N``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from secateurs.config import EVAL_RANDOM, check_eval_spec
from secateurs.errors import InputError
from secateurs.models.digits import load_split


@dataclass
class EvalData:
    source: str
    inputs: np.ndarray  # float32 [N, ...] matching the model input (batch axis first)
    labels: np.ndarray | None  # int64 [N], or None for label-free evaluation

    @property
    def n(self) -> int:
        return int(self.inputs.shape[0])


def load_eval_data(spec: str, input_shape: tuple[int, ...], seed: int = 0) -> EvalData:
    check_eval_spec(spec)
    if spec == "builtin:digits":
        x, y = load_split("test")  # the held-out split the builtin models never saw
        data = EvalData(spec, x.numpy(), y.numpy())
    elif m := EVAL_RANDOM.match(spec):
        n = int(m.group(1))
        rng = np.random.default_rng(seed)
        data = EvalData(spec, rng.standard_normal((n, *input_shape[1:]), dtype=np.float32), None)
    else:
        data = _load_npz(Path(spec))
    _check_shape(data, input_shape)
    return data


def _load_npz(path: Path) -> EvalData:
    if not path.is_file():
        raise InputError(f"{path}: evaluation data file not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "inputs" not in z.files:
                raise InputError(f"{path}: has no 'inputs' array (found: {', '.join(z.files) or 'none'})")
            inputs = np.asarray(z["inputs"])
            labels = np.asarray(z["labels"]) if "labels" in z.files else None
    except InputError:
        raise
    except (OSError, ValueError, EOFError) as e:  # not a zip, pickled objects, truncated
        raise InputError(f"{path}: not a readable .npz of arrays ({str(e).splitlines()[0][:200]})") from e
    if not np.issubdtype(inputs.dtype, np.floating):
        raise InputError(f"{path}: 'inputs' must be floating point, got {inputs.dtype}")
    if labels is not None:
        if (
            labels.ndim != 1
            or labels.shape[0] != inputs.shape[0]
            or not np.issubdtype(labels.dtype, np.integer)
        ):
            raise InputError(
                f"{path}: 'labels' must be integers shaped [{inputs.shape[0]}], got {labels.dtype} {list(labels.shape)}"
            )
        labels = labels.astype(np.int64)
    return EvalData(str(path), inputs.astype(np.float32), labels)


def _check_shape(data: EvalData, input_shape: tuple[int, ...]) -> None:
    want = tuple(input_shape[1:])
    got = tuple(data.inputs.shape[1:])
    if data.inputs.ndim != len(input_shape) or got != want:
        raise InputError(
            f"{data.source}: inputs shaped {list(data.inputs.shape)} do not match the model input"
            f" [N, {', '.join(map(str, want))}]"
        )
    if data.n == 0:
        raise InputError(f"{data.source}: no samples")
    if not np.isfinite(data.inputs).all():
        raise InputError(f"{data.source}: inputs contain NaN or Inf")
