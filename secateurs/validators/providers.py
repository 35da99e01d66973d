"""onnxruntime execution providers: short names, and a clear error for ones not installed."""

from __future__ import annotations

from secateurs.errors import UsageError

ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "migraphx": "MIGraphXExecutionProvider",
    "dml": "DmlExecutionProvider",
    "directml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "qnn": "QNNExecutionProvider",
}


def resolve(name: str) -> str:
    """'cuda' or 'CUDAExecutionProvider' -> the full name, if this onnxruntime build has it."""
    import onnxruntime as ort

    full = ALIASES.get(name.lower(), name)
    available = ort.get_available_providers()
    if full not in available:
        short = {v: k for k, v in ALIASES.items()}
        names = ", ".join(f"{short.get(p, p)} ({p})" for p in available)
        raise UsageError(
            f"--provider {name}: not available in this onnxruntime build"
            f" ({ort.__version__}); available: {names}"
        )
    return full
