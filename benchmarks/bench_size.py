"""Size and speed of the .spz container on ResNet-50-shaped pruned conv weights.

Not a test: prints a table and writes the "spz" section of benchmarks/SIZE.md.

For each sparsity, every ResNet-50 conv weight (23.45M params, shapes listed by hand)
is drawn from a Kaiming-scaled Gaussian and magnitude-pruned per tensor; the weights are
saved as one .onnx. The information bound per tensor is the mask entropy N*H2(s) bits
plus the order-0 entropy of each of the 4 byte planes of its nonzero float32 values.
Pack and unpack run in a fresh subprocess each, so their peak RSS can be reported.

    python benchmarks/bench_size.py            # all sparsities, ~3 minutes (zstd -19 is slow)
    python benchmarks/bench_size.py --quick    # skip gzip -9 and zstd -19
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from secateurs.report.ledger import bound_bytes

ROOT = Path(__file__).resolve().parent.parent
SIZE_MD = Path(__file__).resolve().parent / "SIZE.md"
BEGIN, END = "<!-- spz:begin -->", "<!-- spz:end -->"
SPARSITIES = (0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99)


def resnet50_conv_shapes() -> list[tuple[int, int, int, int]]:
    """(out, in, kh, kw) of every Conv2d in torchvision's ResNet-50, in order."""
    shapes = [(64, 3, 7, 7)]
    inplanes = 64
    for width, blocks in ((64, 3), (128, 4), (256, 6), (512, 3)):
        for b in range(blocks):
            shapes += [(width, inplanes, 1, 1), (width, width, 3, 3), (width * 4, width, 1, 1)]
            if b == 0:
                shapes.append((width * 4, inplanes, 1, 1))  # downsample
            inplanes = width * 4
    return shapes


def pruned_weights(sparsity: float, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for shape in resnet50_conv_shapes():
        fan_in = shape[1] * shape[2] * shape[3]
        # drawn in float64, then rounded: float32 ziggurat draws have biased low mantissa bits
        w = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32).ravel()
        k = int(round(sparsity * w.size))
        if k:
            w[np.argpartition(np.abs(w), k - 1)[:k]] = 0.0
        out.append(w.reshape(shape))
    return out


def save_model(weights: list[np.ndarray], path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(w, f"conv{i}.weight") for i, w in enumerate(weights)]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["conv0.weight"], ["y"])], "resnet50_convs", [], [out], inits
    )
    onnx.save_model(helper.make_model(graph), path)


def csr_npz_bytes(weights: list[np.ndarray]) -> int:
    import scipy.sparse

    total = 0
    for w in weights:
        buf = io.BytesIO()
        scipy.sparse.save_npz(buf, scipy.sparse.csr_matrix(w.reshape(w.shape[0], -1)))
        total += buf.getbuffer().nbytes
    return total


def coo_int64_bytes(weights: list[np.ndarray]) -> int:
    return sum(int(np.count_nonzero(w)) * (8 + 4) for w in weights)


def zstd_bytes(data: bytes, level: int) -> int:
    import zstandard

    return len(zstandard.ZstdCompressor(level=level).compress(data))


_CHILD = r"""
import json, sys, time
from pathlib import Path
import secateurs.spz as spz

def hwm_kib():  # VmHWM is per address space; ru_maxrss would carry the parent's peak over exec
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

op, src, dst, reps = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
base = hwm_kib()
best = 1e9
for _ in range(reps):
    dst.unlink(missing_ok=True)  # replacing an old file costs an unlink (35 ms / 100 MB on ext4)
    t = time.perf_counter()
    spz.pack(src, dst) if op == "pack" else spz.unpack(src, dst)
    best = min(best, time.perf_counter() - t)
print(json.dumps({"seconds": best, "peak_kib": hwm_kib(), "base_kib": base}))
"""


def timed(op: str, src: Path, dst: Path, reps: int) -> dict:
    # import numpy/zstandard before the baseline so the RSS delta is the operation's own
    child = "import numpy, zstandard, secateurs.spz.packer, secateurs.spz.unpacker\n" + _CHILD
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run(
        [sys.executable, "-c", child, op, str(src), str(dst), str(reps)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(res.stdout)


def measure(sparsity: float, work: Path, quick: bool, reps: int) -> dict:
    weights = pruned_weights(sparsity)
    dense = sum(w.nbytes for w in weights)
    onnx_path, spz_path, back = work / "m.onnx", work / "m.onnx.spz", work / "back.onnx"
    save_model(weights, onnx_path)
    raw = onnx_path.read_bytes()
    pack = timed("pack", onnx_path, spz_path, reps)
    unpack = timed("unpack", spz_path, back, reps)
    if back.read_bytes() != raw:
        raise SystemExit(f"round trip failed at sparsity {sparsity}")
    largest = max(w.nbytes for w in weights)
    row = {
        "sparsity": sparsity,
        "dense": dense,
        "onnx": len(raw),
        "bound": sum(bound_bytes(w) for w in weights),
        "spz": spz_path.stat().st_size,
        "zstd3": zstd_bytes(raw, 3),
        "csr_npz": csr_npz_bytes(weights),
        "coo_int64": coo_int64_bytes(weights),
        "pack_mbs": len(raw) / pack["seconds"] / 1e6,
        "unpack_mbs": len(raw) / unpack["seconds"] / 1e6,
        "pack_peak_mib": (pack["peak_kib"] - pack["base_kib"]) / 1024,
        "unpack_peak_mib": (unpack["peak_kib"] - unpack["base_kib"]) / 1024,
        "largest_tensor_mib": largest / 2**20,
    }
    if not quick:
        row["gzip9"] = len(gzip.compress(raw, 9))
        row["zstd19"] = zstd_bytes(raw, 19)
    return row


def table(rows: list[dict]) -> str:
    comp = ["gzip9", "zstd19"] if "gzip9" in rows[0] else []
    head = [
        "sparsity",
        "bound",
        "spz",
        "spz/bound",
        "zstd -3",
        *[{"gzip9": "gzip -9", "zstd19": "zstd -19"}[c] for c in comp],
    ]
    head += ["CSR npz", "COO int64", "pack MB/s", "unpack MB/s", "pack ΔRSS MiB", "unpack ΔRSS MiB"]
    # ΔRSS is shown as mapped input + the rest (working set, zstd contexts, allocator slack)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        d = r["dense"]
        cells = [
            f"{r['sparsity']:.2f}",
            f"{r['bound'] / d:.4f}",
            f"{r['spz'] / d:.4f}",
            f"{r['spz'] / r['bound']:.4f}",
        ]
        cells += [f"{r[k] / d:.4f}" for k in ("zstd3", *comp, "csr_npz", "coo_int64")]
        onnx_mib, spz_mib = r["onnx"] / 2**20, r["spz"] / 2**20
        cells += [
            f"{r['pack_mbs']:.0f}",
            f"{r['unpack_mbs']:.0f}",
            f"{r['pack_peak_mib']:.0f} = {onnx_mib:.0f} + {r['pack_peak_mib'] - onnx_mib:.0f}",
            f"{r['unpack_peak_mib']:.0f} = {spz_mib:.0f} + {r['unpack_peak_mib'] - spz_mib:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_section(text: str, markers: tuple[str, str] = (BEGIN, END)) -> None:
    """Replace the text between ``markers`` in SIZE.md (append it if absent)."""
    begin, end = markers
    old = SIZE_MD.read_text() if SIZE_MD.exists() else ""
    block = f"{begin}\n{text}\n{end}"
    if begin in old and end in old:
        new = old[: old.index(begin)] + block + old[old.index(end) + len(end) :]
    else:
        new = (old.rstrip() + "\n\n" if old.strip() else "") + block + "\n"
    SIZE_MD.write_text(new)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="skip gzip -9 and zstd -19 (slow)")
    ap.add_argument("--sparsity", type=float, nargs="*", default=list(SPARSITIES))
    ap.add_argument("--reps", type=int, default=3, help="timing repetitions (best is kept)")
    ap.add_argument("--no-write", action="store_true", help=f"do not update {SIZE_MD.name}")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_spz_") as tmp:
        for s in args.sparsity:
            rows.append(measure(s, Path(tmp), args.quick, args.reps))
            print(f"sparsity {s}: spz/bound {rows[-1]['spz'] / rows[-1]['bound']:.4f}", file=sys.stderr)
    text = table(rows)
    print(text)
    if not args.no_write:
        write_section(report(rows, text, args.reps))


def report(rows: list[dict], text: str, reps: int) -> str:
    r0 = rows[0]
    worst = max(r["spz"] / r["bound"] for r in rows)
    slowest_pack = min(r["pack_mbs"] for r in rows)
    slowest_unpack = min(r["unpack_mbs"] for r in rows)
    return f"""## .spz container (`benchmarks/bench_size.py`)

ResNet-50's 53 conv weights ({r0["dense"] / 4 / 1e6:.2f}M float32 params, {r0["dense"] / 2**20:.1f} MiB), Kaiming-scaled
Gaussian, magnitude-pruned per tensor, saved as one .onnx. Sizes are bytes per dense fp32 weight byte.
*bound* = per tensor N·H2(s) bits for the mask + order-0 entropy of each of the 4 byte planes of the
nonzero values. `.spz` is `secateurs.spz.pack` with default settings (zstd level 3), the whole file
(skeleton, index, footer) included. MB/s are of the .onnx bytes, best of {reps} runs in a fresh
process, on {platform.machine()} with {os.cpu_count()} vCPUs ({platform.python_version()}); unpack writes to a
new file (replacing an old one adds an ext4 unlink, ~35 ms per 100 MB). ΔRSS is the peak RSS (VmHWM)
above an idle interpreter with numpy and zstandard imported; it includes the memory-mapped input
({r0["onnx"] / 2**20:.1f} MiB for pack, the .spz for unpack), whose pages count once read. The largest
tensor is {r0["largest_tensor_mib"]:.1f} MiB. gzip -9 and zstd -19 are of the whole .onnx, single-threaded;
CSR npz is `scipy.sparse.save_npz` per tensor (2-D: out × in·kh·kw); COO int64 is one int64 linear
index plus one float32 value per nonzero, uncompressed.

{text}

Worst spz/bound: {worst:.4f} (target ≤ 1.03). Slowest pack {slowest_pack:.0f} MB/s (target ≥ 300),
slowest unpack {slowest_unpack:.0f} MB/s (target ≥ 500). ΔRSS cells read "peak = mapped input + the
rest"; the rest is the tensors in flight (the one being coded plus up to three finished ones waiting
to be written: numpy peaks near 4× the largest tensor by tracemalloc), zstd contexts and allocator
slack. Timings vary by tens of percent on this shared VM.

How the bound is approached: the mask is Rice-coded gaps between the rarer kind of element (zeros
below 50% sparsity), within about 1% of N·H2(s), or a zstd bitmask when that is smaller (masks with
structure). Values are byte planes. The sign/exponent plane is split into a raw sign-bit stream and a
bit-packed palette of the high exponent bits, because zstd's Huffman cannot spend under one bit per
byte (plain zstd of that plane came to 1.28-1.51x its order-0 entropy). Planes whose sampled entropy
is at least 7.95 bits are stored raw. Tensor streams use zstd's fast strategy with 7-byte minimum
matches, smaller and about 3x faster than level 3 on such data. Checksums are crc32 per tensor and
per file: sha256 cost 55 ms per 100 MB even in its own thread, a sixth of the pack budget. One
encoder thread: the two vCPUs give about 1.3 cores of throughput, and two numpy threads ran slower
than one."""


if __name__ == "__main__":
    main()
