"""Run an ONNX file in onnxruntime and compare it with reference outputs."""

from __future__ import annotations

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


def run_all(
    path: Path, inputs: list[np.ndarray], provider: str = "CPUExecutionProvider"
) -> list[dict[str, np.ndarray]] | str:
    """Outputs per input, or an error string if the session cannot be built, run, or use ``provider``."""
    try:
        sess = session(path, provider)
    except Exception as e:  # an operator or attribute combination this onnxruntime does not implement
        return f"onnxruntime cannot load {Path(path).name}: {_first_line(e, path)}"
    try:
        if sess.get_providers()[0] != provider:
            return f"onnxruntime could not use {provider} (it fell back to {sess.get_providers()[0]})"
        input_name = sess.get_inputs()[0].name
        names = [o.name for o in sess.get_outputs()]
        return [dict(zip(names, sess.run(None, {input_name: x}))) for x in inputs]
    except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph/... types
        return f"onnxruntime failed running {Path(path).name}: {_first_line(e, path)}"


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
    checks = []
    for x, got, ref in zip(inputs, outputs, references):
        compared = compare_outputs(got, ref, atol, rtol)
        shape = "x".join(map(str, x.shape))
        bad = [c for c in compared if not c.passed]
        detail = "; ".join(f"{c.name}: {c.message}" for c in bad)
        checks.append(Check(path.name, f"{label} @ {shape}", not bad, detail, compared))
    return checks
