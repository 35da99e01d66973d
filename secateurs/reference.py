"""reference.npz: the validation inputs and PyTorch's outputs for them, stored with the artifacts.

It lets `secateurs verify` re-check every ONNX artifact where PyTorch is not installed.
Keys: ``input.<i>`` (float32), ``output.<i>.<j>`` (output ``j`` of ``meta.output_names`` for
input ``i``) and ``meta``, a JSON string holding the tolerances recorded at export. Plain
arrays only, so it loads with ``allow_pickle=False``; numpy writes fixed zip timestamps,
so the same data gives the same bytes.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

FILENAME = "reference.npz"
SCHEMA = "secateurs.reference/1"


class ReferenceError(Exception):
    """reference.npz is missing, unreadable or inconsistent."""


@dataclass
class Reference:
    inputs: list[np.ndarray]
    outputs: list[dict[str, np.ndarray]]  # per input: output name -> PyTorch's array
    tolerances: dict[str, dict[str, float]]  # provider (or "accelerator") -> {"atol", "rtol"}
    meta: dict


def write(
    f: BinaryIO,
    inputs: list[np.ndarray],
    outputs: list[dict[str, np.ndarray]],
    output_names: list[str],
    tolerances: dict[str, dict[str, float]],
) -> None:
    """reference.npz into the seekable binary file ``f`` (streamed: no copy of it in memory)."""
    meta = {
        "schema": SCHEMA,
        "n_inputs": len(inputs),
        "output_names": list(output_names),
        "tolerances": tolerances,
    }
    arrays = {"meta": np.array(json.dumps(meta, sort_keys=True))}
    for i, (x, out) in enumerate(zip(inputs, outputs)):
        arrays[f"input.{i}"] = np.ascontiguousarray(x)
        for j, name in enumerate(output_names):
            arrays[f"output.{i}.{j}"] = np.ascontiguousarray(out[name])
    np.savez(f, **arrays)


def read(path: Path) -> Reference:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise ReferenceError(f"{path}: not found") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ReferenceError(f"{path}: unreadable ({e})") from e
    try:
        meta = json.loads(str(arrays.pop("meta")))
        if meta.get("schema") != SCHEMA:
            raise ReferenceError(f"{path}: not a {SCHEMA} file")
        names = meta["output_names"]
        n = int(meta["n_inputs"])
        inputs = [arrays.pop(f"input.{i}") for i in range(n)]
        outputs = [{name: arrays.pop(f"output.{i}.{j}") for j, name in enumerate(names)} for i in range(n)]
        tolerances = meta["tolerances"]
    except (KeyError, TypeError, ValueError) as e:
        raise ReferenceError(f"{path}: inconsistent contents (missing {e})") from e
    if arrays:
        raise ReferenceError(f"{path}: unexpected arrays {', '.join(sorted(arrays)[:5])}")
    return Reference(inputs, outputs, tolerances, meta)
