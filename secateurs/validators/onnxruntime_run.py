"""Run an ONNX file in onnxruntime and compare it with reference outputs."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from secateurs import cpus
from secateurs.validators.compare import compare_outputs
from secateurs.validators.results import Check


def session_options():
    """Quiet, sized by ``secateurs.cpus`` (``--threads``), and not spinning."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = cpus.onnxruntime_threads()
    # Idle ORT threads otherwise spin and steal the cores PyTorch needs in the same process.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


def session(path: Path, provider: str = "CPUExecutionProvider"):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), session_options(), providers=[provider])


class RunFailed(Exception):
    """The session could not be built, run, or use the provider; the message says why in one line."""


def _runs(path: Path, inputs: list[np.ndarray], provider: str) -> Iterator[dict[str, np.ndarray]]:
    """Outputs by name for each input, one input at a time; raises RunFailed."""
    try:
        sess = session(path, provider)
    except Exception as e:  # an operator or attribute combination this onnxruntime does not implement
        raise RunFailed(f"onnxruntime cannot load {Path(path).name}: {_first_line(e, path)}") from None
    if sess.get_providers()[0] != provider:
        raise RunFailed(f"onnxruntime could not use {provider} (it fell back to {sess.get_providers()[0]})")
    input_name = sess.get_inputs()[0].name
    names = [o.name for o in sess.get_outputs()]
    for x in inputs:
        try:
            outputs = sess.run(None, {input_name: x})
        except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph/... types
            raise RunFailed(f"onnxruntime failed running {Path(path).name}: {_first_line(e, path)}") from None
        yield dict(zip(names, outputs))


def run_all(
    path: Path, inputs: list[np.ndarray], provider: str = "CPUExecutionProvider"
) -> list[dict[str, np.ndarray]] | str:
    """Outputs per input, or an error string if the session cannot be built, run, or use ``provider``."""
    try:
        return list(_runs(path, inputs, provider))
    except RunFailed as e:
        return str(e)


def run_compared(
    path: Path,
    inputs: list[np.ndarray],
    references: list[dict[str, np.ndarray]],
    atol: float,
    rtol: float,
    provider: str = "CPUExecutionProvider",
    label: str = "onnxruntime vs torch",
) -> tuple[list[Check], list[dict[str, tuple]] | str]:
    """Run ``path`` in onnxruntime on each input and compare it with ``references`` as it goes.

    Returns one Check per input (as ``compare_with_reference``) and each input's output
    ``fingerprints``, or one failed Check and the error string when the session cannot be built
    or run. An input's outputs are dropped once compared: holding every input's outputs beside
    the session costs as much as the references (~100 MB for a YOLOv5s-sized detector at 640x640).
    """
    checks, prints = [], []
    runs = _runs(path, inputs, provider)
    try:
        for x, ref in zip(inputs, references):
            got = next(runs)
            checks.append(_compared(path, x, got, ref, atol, rtol, label))
            prints.append({n: fingerprint(a) for n, a in got.items()})
            del got  # before the next input runs
    except RunFailed as e:
        return [Check(path.name, label, False, str(e))], str(e)
    return checks, prints


def fingerprint(a: np.ndarray) -> tuple:
    """An output's shape, dtype and sha256 of its bytes: equal fingerprints, bit-identical arrays."""
    a = np.ascontiguousarray(a)
    return a.shape, a.dtype.str, hashlib.sha256(a.reshape(-1).view(np.uint8)).hexdigest()


def _first_line(e: BaseException, path: Path) -> str:
    """onnxruntime's first line, with the file's directory dropped: validation runs in a
    staging directory that no longer exists when the user reads the message."""
    lines = str(e).strip().replace(str(path), Path(path).name).splitlines()
    return f"{type(e).__name__}: {lines[0][:500] if lines else ''}"


def compare_with_reference(
    path: Path,
    inputs: list[np.ndarray],
    outputs: list[dict[str, np.ndarray]] | str,
    references: list[dict[str, np.ndarray]],
    atol: float,
    rtol: float,
    label: str = "onnxruntime vs torch",
) -> list[Check]:
    """One Check per input: every output (from ``run_all``) within atol + rtol*|ref|."""
    if isinstance(outputs, str):
        return [Check(path.name, label, False, outputs)]
    return [
        _compared(path, x, got, ref, atol, rtol, label) for x, got, ref in zip(inputs, outputs, references)
    ]


def _compared(path: Path, x: np.ndarray, got: dict, ref: dict, atol: float, rtol: float, label: str) -> Check:
    compared = compare_outputs(got, ref, atol, rtol)
    shape = "x".join(map(str, x.shape))
    bad = [c for c in compared if not c.passed]
    detail = "; ".join(f"{c.name}: {c.message}" for c in bad)
    return Check(path.name, f"{label} @ {shape}", not bad, detail, compared)
