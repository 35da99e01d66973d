"""The floor of issue 13: what a user does by hand, without secateurs, in one process.

    python -m benchmarks.floor MODULE:FACTORY --out DIR [--weights FILE] [--input-shape N,C,H,W]

1. build the model (and load a safetensors state_dict when given);
2. ``torch.nn.utils.prune.l1_unstructured`` + ``prune.remove`` on every Conv2d;
3. ``torch.onnx.export`` with the dynamo exporter: one file (``external_data=False``),
   opset 18 and a dynamic batch axis traced at batch 2, as
   ``secateurs.exporters.onnx_model_torch`` exports;
4. one onnxruntime session (its default options and thread count) and one inference
   at the input shape, compared with PyTorch's output (``np.testing.assert_allclose``
   at secateurs' default atol 1e-4, rtol 1e-3);
5. gzip the file at the gzip CLI's default level 6, streamed with Python's ``gzip``
   module (``mtime=0``, like ``gzip -n``).
No thread count is set: torch and onnxruntime use their own defaults, as a user's script
does (onnxruntime's default is one thread per physical core). ``DIR/floor.json`` gets
the seconds of each part (``imports`` counts from the first line of this script), the
peak RSS reached by the end of each, the file sizes and torch's thread count. Torch, numpy and onnxruntime only; nothing from
secateurs but a builtin's model class.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import gzip  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
from torch.nn.utils import prune  # noqa: E402

AMOUNT = 0.3
OPSET = 18
GZIP_LEVEL = 6


def flatten(out) -> list[torch.Tensor]:
    """Tensors of a nested output in order (torch.onnx's output order for tuples and lists)."""
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        return [t for v in out.values() for t in flatten(v)]
    return [t for v in out for t in flatten(v)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("spec")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--weights", type=Path)
    ap.add_argument("--input-shape")
    args = ap.parse_args()
    parts = {"imports": time.perf_counter() - T0}
    peaks = {}  # this process's peak RSS (KiB) by the end of each part

    def lap(name: str, t: float) -> float:
        now = time.perf_counter()
        parts[name] = now - t
        peaks[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return now

    t = time.perf_counter()
    module, _, factory = args.spec.partition(":")
    model = getattr(importlib.import_module(module), factory)()
    if args.weights:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(args.weights))
    model.eval()
    shape = tuple(int(v) for v in args.input_shape.split(",")) if args.input_shape else model.input_shape
    t = lap("build", t)

    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            prune.l1_unstructured(m, "weight", amount=AMOUNT)
            prune.remove(m, "weight")
    t = lap("prune", t)

    path = args.out / "model.onnx"
    torch.onnx.export(
        model,
        (torch.zeros(2, *shape[1:]),),  # batch 2: torch.export would specialise a batch of 1
        str(path),
        dynamo=True,
        external_data=False,
        opset_version=OPSET,
        input_names=["input"],
        dynamic_shapes=({0: torch.export.Dim("batch", min=1)},),
    )
    t = lap("export", t)

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    t = lap("session", t)
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    got = session.run(None, {"input": x})
    with torch.no_grad():
        want = [o.numpy() for o in flatten(model(torch.from_numpy(x)))]
    if len(got) != len(want):
        raise SystemExit(f"onnxruntime gave {len(got)} outputs, PyTorch {len(want)}")
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-4)
    t = lap("inference", t)

    gz = path.with_name(path.name + ".gz")
    with path.open("rb") as src, gzip.GzipFile(gz, "wb", compresslevel=GZIP_LEVEL, mtime=0) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    lap("gzip", t)

    info = {
        "parts": parts,
        "peak_kib_after": peaks,
        "sizes": {"model.onnx": path.stat().st_size, "model.onnx.gz": gz.stat().st_size},
        "torch_threads": torch.get_num_threads(),
    }
    (args.out / "floor.json").write_text(json.dumps(info))


if __name__ == "__main__":
    sys.exit(main())
