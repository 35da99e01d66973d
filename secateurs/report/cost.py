"""The cost section: parameters and MACs of model.onnx against the dense original, and latency.

Counts come from report.json's ``cost`` block (pipeline/cost.py). Latency varies run to run,
so it is not in report.json: the terminal and `secateurs report DIR` pass manifest.json's
``run.latency`` in, while report.md and report.html (hashed) say where to find it.
"""

from __future__ import annotations

from secateurs.report.blocks import Column, Paragraph, Section, Stat, Table, cells

ELSEWHERE = (
    "onnxruntime latency varies from run to run, so this hashed page leaves it out: manifest.json"
    " holds it (run.latency), and `secateurs report DIR` prints it."
)
COUNT_COLUMNS = [Column("per sample"), Column("dense original", "number"), Column("pruned", "number")]
COUNT_COLUMNS.append(Column("x smaller", "number"))
LATENCY_COLUMNS = [
    Column("artifact"),
    Column("batch", "number"),
    Column("median", "number"),
    Column("p10-p90", "number"),
    Column("runs", "number"),
    Column("x faster than dense", "number"),
]


def compute_stat(report: dict) -> Stat | None:
    """The summary's compute headline, beside the recommended artifact's size."""
    cost = report.get("cost")
    if not cost:
        return None
    if "error" in cost:  # the artifacts passed; only the comparison is missing, and that is said
        return Stat("compute (MACs)", "NOT MEASURED", cost["error"], "no dense original to compare with")
    ratio = cost.get("macs_ratio")
    dense, pruned = cost["dense_original"]["macs"], cost["pruned"]["macs"]
    value = f"{ratio:.2f}x fewer than dense" if ratio is not None else "none counted"
    if report["config"].get("structure", "unstructured") == "unstructured" and ratio == 1.0:
        value = "1.00x, as dense: zeros save bytes, not time"
    return Stat(
        "compute (MACs)", value, f"{_count(pruned)} / {_count(dense)}", "per sample, on the ONNX graphs"
    )


def latency_stat(latency: dict | None, file: str = "model.onnx") -> Stat | None:
    """``file``'s (the recommended artifact's) speed-up over the dense original at the largest
    batch measured; model.onnx's when ``file`` was not timed."""
    if not latency:
        return None
    batch = str(max(latency["batches"]))
    file = (latency.get("same_bytes_as") or {}).get(file, file)
    if batch not in latency["artifacts"].get(file, {}):
        file = "model.onnx"
    dense = latency["artifacts"].get(latency.get("denominator", ""), {}).get(batch)
    ours = latency["artifacts"].get(file, {}).get(batch)
    if not dense or not ours:
        return None
    speedup = dense["median_ms"] / ours["median_ms"]
    detail = f"{ours['median_ms']:.2f} ms vs {dense['median_ms']:.2f} ms"
    label = f"onnxruntime latency, batch {batch}"
    said = f"{speedup:.2f}x faster than dense" if speedup >= 1 else f"{1 / speedup:.2f}x slower than dense"
    if overlap(dense, ours):
        said += ", within the noise"
        detail += (
            "; no measured difference: the p10-p90 spreads overlap, runs are few or the time is call overhead"
        )
    return Stat(label, said, detail, f"{file}, median")


MIN_SPREAD_RUNS = 5  # fewer timed runs give no p10-p90 spread worth the name
OVERHEAD_MS = 0.1  # a median under this is mostly onnxruntime's per-call overhead, not the model


def overlap(dense: dict, ours: dict) -> bool:
    """The medians' ratio is no measured difference: the two p10-p90 spreads overlap, or there
    were too few runs to have a spread, or the dense median is call overhead."""
    if min(dense.get("runs", MIN_SPREAD_RUNS), ours.get("runs", MIN_SPREAD_RUNS)) < MIN_SPREAD_RUNS:
        return True
    if dense["median_ms"] < OVERHEAD_MS:
        return True
    return ours["p10_ms"] <= dense["p90_ms"] and dense["p10_ms"] <= ours["p90_ms"]


def cost_section(report: dict, latency: dict | None = None) -> Section | None:
    cost = report.get("cost")
    if not cost:
        return None
    if "error" in cost:
        return Section("Cost: parameters, MACs and latency", [Paragraph([cost["error"]])])
    before, after = cost["dense_original"], cost["pruned"]
    rows = [
        cells("parameters", f"{before['params']:,}", f"{after['params']:,}", _x(cost["params_ratio"])),
        cells("MACs", f"{before['macs']:,}", f"{after['macs']:,}", _x(cost["macs_ratio"])),
        cells(
            "nonzero-weight MACs (information)",
            _n(before["nonzero_macs"]),
            _n(after["nonzero_macs"]),
            _x(_div(before["nonzero_macs"], after["nonzero_macs"])),
        ),
    ]
    shape = "x".join(map(str, cost["shape"]))
    zero = ", ".join(after.get("zero_counted") or ()) or "none"
    notes = [
        f"Counted on the ONNX graphs at input {shape}: Conv, ConvTranspose, Gemm and MatMul"
        f" multiply-accumulates; other operators count 0 ({zero}). Denominator: {cost['denominator']};"
        f" counted on {cost['counted_on']}. parameters: elements of the floating-point initializers.",
        cost["note"],
    ]
    if after.get("unshaped"):
        notes.append(f"Not counted (shapes unknown): {', '.join(after['unshaped'])}.")
    blocks: list = [Table(COUNT_COLUMNS, rows), Paragraph(notes)]
    blocks += latency_blocks(latency)
    return Section("Cost: parameters, MACs and latency", blocks)


def latency_blocks(latency: dict | None) -> list:
    if not latency:
        return [Paragraph([ELSEWHERE])]
    denominator = latency.get("denominator", "")
    rows, errors = [], []
    for batch in map(str, latency["batches"]):
        dense = latency["artifacts"].get(denominator, {}).get(batch)
        for name, per in latency["artifacts"].items():
            if "error" in per:
                if batch == str(latency["batches"][0]):
                    errors.append(f"{name}: {per['error']}")
                continue
            t = per.get(batch)
            if t is None:
                continue
            speedup = _x(dense["median_ms"] / t["median_ms"]) if dense and name != denominator else ""
            if speedup and overlap(dense, t):
                speedup += " (within the noise)"
            spread = f"{t['p10_ms']:.2f}-{t['p90_ms']:.2f} ms"
            rows.append(cells(name, batch, f"{t['median_ms']:.2f} ms", spread, str(t["runs"]), speedup))
    copies = latency.get("same_bytes_as") or {}
    lines = [
        f"onnxruntime {latency['provider']}, {latency['threads']} threads, {latency['warmup']} warm-up runs,"
        f" then {latency['runs']} timed runs per artifact and batch, {latency['order']}."
    ]
    lines += [f"{a}: the same bytes as {b}, timed once." for a, b in copies.items()]
    lines += errors
    return [Table(LATENCY_COLUMNS, rows), Paragraph(lines)]


def _x(ratio: float | None) -> str:
    return "" if ratio is None else f"{ratio:.2f}x"


def _div(a: int | None, b: int | None) -> float | None:
    return a / b if a is not None and b else None


def _n(n: int | None) -> str:
    return "unknown" if n is None else f"{n:,}"


def _count(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)
