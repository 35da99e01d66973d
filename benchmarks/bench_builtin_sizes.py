"""Artifact sizes of the trained builtin model across sparsities (run by `make bench-size`).

Not a test: runs the whole pipeline (every format, every check) on builtin:resnet at each
amount, prints the size ledger, and writes the "builtin" section of benchmarks/SIZE.md.
"""

from __future__ import annotations

import gzip
import sys
import tempfile
from pathlib import Path

import zstandard

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_size import write_section  # noqa: E402
from secateurs.config import RunConfig  # noqa: E402
from secateurs.pipeline.runner import execute  # noqa: E402

AMOUNTS = (0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99)
FILES = ("model.sparse.onnx", "model.bitmask.onnx", "model.onnx.spz", "weights.npz")
MARKERS = ("<!-- builtin:begin -->", "<!-- builtin:end -->")


def measure(amount: float, tmp: Path) -> dict:
    _, report = execute(
        RunConfig(model="builtin:resnet", out=tmp / f"a{amount}", amount=amount),
        ["load", "prune", "export", "validate"],
    )
    assert report["status"] == "passed"
    sizes = report["sizes"]
    by_file = {a["file"]: a for a in sizes["artifacts"]}
    onnx_bytes = sizes["model_onnx_bytes"]
    raw = (tmp / f"a{amount}" / "model.onnx").read_bytes()  # strongest levels: the run reports a fast one
    return {
        "amount": amount,
        "sparsity": report["sparsity"]["pruned_tensors"]["sparsity"],
        "onnx": onnx_bytes,
        **{f: by_file[f]["ratio"] for f in FILES},
        "gzip": len(gzip.compress(raw, 9, mtime=0)) / onnx_bytes,
        "zstd": len(zstandard.ZstdCompressor(level=19).compress(raw)) / onnx_bytes,
        "spz_weights_vs_bound": by_file["model.onnx.spz"]["ratio_to_bound"],
        "bitmask_weights_vs_bound": by_file["model.bitmask.onnx"]["ratio_to_bound"],
    }


def table(rows: list[dict]) -> str:
    head = [
        "amount",
        "conv sparsity",
        *FILES,
        "gzip -9",
        "zstd -19",
        "spz weights / bound",
        "bitmask weights / bound",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [f"{r['amount']:.2f}", f"{r['sparsity']:.4f}", *(f"{r[f]:.3f}" for f in FILES)]
        cells += [
            f"{r['gzip']:.3f}",
            f"{r['zstd']:.3f}",
            f"{r['spz_weights_vs_bound']:.4f}",
            f"{r['bitmask_weights_vs_bound']:.3f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench_builtin_") as tmp:
        rows = [measure(a, Path(tmp)) for a in AMOUNTS]
    text = table(rows)
    print(text)
    onnx_kib = rows[0]["onnx"] / 1024
    write_section(
        f"""## Trained builtin model (`benchmarks/bench_builtin_sizes.py`)

`builtin:resnet` (305,808 conv weights, 99.1% of its parameters; model.onnx {onnx_kib:.0f} KiB), pruned
layer by layer at each amount through the whole pipeline (dynamo exporter, every artifact validated).
Ratios are file size / model.onnx size, except weights.npz, which is / the dense bytes of the pruned
weights. gzip -9 and zstd -19 compress the whole model.onnx. The last two columns divide the bytes
each artifact spends on the pruned weights by their information bound (on this small model the
container's fixed costs and the dense BatchNorm/fc tensors weigh more than on ResNet-50).

{text}
""",
        MARKERS,
    )


if __name__ == "__main__":
    main()
