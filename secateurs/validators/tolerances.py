"""Output tolerances per onnxruntime execution provider.

``--atol``/``--rtol`` are the CPU tolerances: CPU kernels stay within ~1e-6 of PyTorch
on float32 CNNs. Accelerator providers (CUDA, TensorRT, ROCm, DirectML, ...) pick other
convolution algorithms and may use TF32, so they are judged with ACCELERATOR_SCALE times
those tolerances. Both entries are recorded in reference.npz and in the report, so
`secateurs verify` applies exactly what the export run stated.
"""

from __future__ import annotations

CPU = "CPUExecutionProvider"
ACCELERATOR = "accelerator"  # the entry every non-CPU provider uses
ACCELERATOR_SCALE = 10.0


def table(atol: float, rtol: float) -> dict[str, dict[str, float]]:
    return {
        CPU: {"atol": atol, "rtol": rtol},
        ACCELERATOR: {"atol": atol * ACCELERATOR_SCALE, "rtol": rtol * ACCELERATOR_SCALE},
    }


def for_provider(tolerances: dict[str, dict[str, float]], provider: str) -> tuple[float, float]:
    """(atol, rtol) for ``provider`` from a table written by ``table``."""
    entry = tolerances.get(provider) or tolerances[CPU if provider == CPU else ACCELERATOR]
    return float(entry["atol"]), float(entry["rtol"])
