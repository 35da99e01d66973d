"""The report's tables and section texts, shared by report.md, the terminal and report.html.

Every renderer takes its rows from here, so the three always show the same numbers.
"""

from __future__ import annotations

from secateurs.pipeline.tables import fmt_bytes, fmt_pct, table


def layer_rows(report: dict) -> list[list[str]]:
    return [
        [
            r["name"],
            "x".join(map(str, r["shape"])),
            f"{r['numel']:,}",
            fmt_pct(r["target"]),
            fmt_pct(r["sparsity"]),
            f"{r['zeros_before']:,}",
        ]
        for r in report["layers"]
    ]


LAYER_HEADERS = ["layer", "shape", "weights", "target", "achieved", "zeros before"]
CHECK_HEADERS = ["artifact", "check", "verdict", "max abs", "max rel", "bad", "detail"]


def check_rows(report: dict) -> list[list[str]]:
    rows = []
    for c in (report.get("validation") or {}).get("checks", []):
        outs = c.get("outputs") or []
        max_abs = max((float(o["max_abs"]) for o in outs), default=None)
        max_rel = max((float(o["max_rel"]) for o in outs), default=None)
        rows.append(
            [
                c["artifact"],
                c["name"],
                "PASS" if c["passed"] else "FAIL",
                "" if max_abs is None else f"{max_abs:.2e}",
                "" if max_rel is None else f"{max_rel:.2e}",
                str(sum(o["n_bad"] for o in outs)) if outs else "",
                c.get("detail", ""),
            ]
        )
    return rows


def summary_lines(report: dict) -> list[str]:
    s = report["sparsity"]
    cfg = report["config"]
    given = ", ".join(cfg.get("settings_from_file") or ()) or "no values"
    file = cfg.get("settings_file")
    settings = [f"settings: {file} gave {given}; flags override it"] if file else []
    return [
        f"model {report['model']['spec']}  amount {cfg['amount']}  scope {cfg['scope']}  exporter {cfg['exporter']}",
        *settings,
        f"sparsity over pruned Conv2d weights: {fmt_pct(s['pruned_tensors']['sparsity'])}"
        f" ({s['pruned_tensors']['zeros']:,} / {s['pruned_tensors']['numel']:,}; {s['pruned_tensors']['denominator']})",
        f"sparsity over all parameters:        {fmt_pct(s['all_parameters']['sparsity'])}"
        f" ({s['all_parameters']['zeros']:,} / {s['all_parameters']['numel']:,}; {s['all_parameters']['denominator']})",
    ]


def size_rows(sizes: dict) -> list[list[str]]:
    rows = []
    for a in sizes["artifacts"]:
        ratio = a["ratio"]
        flag = "LARGER THAN DENSE" if a["larger_than_dense"] else ""
        rows.append(
            [
                a["file"],
                fmt_bytes(a["size"]),
                a["dense_reference"],
                "" if ratio is None else f"{ratio:.3f}",
                "" if a["savings_bytes"] is None else fmt_bytes(a["savings_bytes"]),
                "" if a["pruned_weight_bytes"] is None else fmt_bytes(a["pruned_weight_bytes"]),
                "" if a["ratio_to_bound"] is None else f"{a['ratio_to_bound']:.3f}",
                flag,
            ]
        )
    onnx_bytes = sizes.get("model_onnx_bytes")
    for label, size in sizes.get("baselines", {}).items():
        if isinstance(size, int) and onnx_bytes:
            rows.append(
                [
                    f"({label} of model.onnx)",
                    fmt_bytes(size),
                    "model.onnx",
                    f"{size / onnx_bytes:.3f}",
                    fmt_bytes(onnx_bytes - size),
                    "",
                    "",
                    "",
                ]
            )
    return rows


SIZE_HEADERS = ["artifact", "size", "vs dense", "ratio", "saved", "on pruned weights", "x bound", ""]


def layer_size_rows(sizes: dict) -> tuple[list[str], list[list[str]]]:
    files = [a["file"] for a in sizes["artifacts"] if a["pruned_weight_bytes"] is not None]
    headers = ["layer", "dense", "bound", *files]
    rows = [
        [r["name"], fmt_bytes(r["dense_bytes"]), fmt_bytes(round(r["bound_bytes"]))]
        + [fmt_bytes(r["stored_bytes"][f]) if f in r["stored_bytes"] else "" for f in files]
        for r in sizes["layers"]
    ]
    return headers, rows


def size_section(sizes: dict | None, style: str) -> str:
    if not sizes:
        return "no artifacts"
    lines = [
        table(SIZE_HEADERS, size_rows(sizes), style),
        "",
        f"Information bound of the pruned weights: {fmt_bytes(round(sizes['bound_bytes']))}"
        f" (dense {fmt_bytes(sizes['pruned_weights_dense_bytes'])}; {sizes['bound_definition']}).",
    ]
    skipped = sizes.get("baselines", {}).get("skipped")
    if skipped:
        lines.append(f"gzip/zstd baselines skipped: {skipped}.")
    headers, rows = layer_size_rows(sizes)
    lines += ["", table(headers, rows, style)]
    return "\n".join(lines)


def validation_section(report: dict, style: str) -> str:
    v = report["validation"]
    shapes = ", ".join(v.get("shapes", [])) or "?"
    provider = v.get("provider", "CPUExecutionProvider")
    tolerances = v.get("tolerances") or {provider: report["config"]}
    used = tolerances.get(provider) or tolerances.get("accelerator", report["config"])
    per_provider = "; ".join(
        f"{name}: atol {t['atol']:g}, rtol {t['rtol']:g}" for name, t in tolerances.items()
    )
    head = (
        f"input shapes: {shapes}; onnxruntime provider: {provider};"
        f" tolerance used: atol {used['atol']:g}, rtol {used['rtol']:g} (per provider: {per_provider})"
    )
    return f"{head}\n\n" + table(CHECK_HEADERS, check_rows(report), style)


def evaluation_section(ev: dict, style: str) -> str:
    lines = [
        f"data: {ev['data']} ({ev['samples']} samples, {'labelled' if ev['labels'] else 'label-free'})",
        "",
    ]
    rows = []
    for judged, r in ev["results"].items():
        a = r["agreement"]
        row = [f"pruned {judged}"]
        if "dense" in r:
            d = r["delta"]
            row += [_num(r["dense"]["accuracy"]), _num(r["pruned"]["accuracy"])]
            row += [f"{d['accuracy']:+.4f}", f"{d['macro_precision']:+.4f}", f"{d['macro_recall']:+.4f}"]
        else:
            row += ["", "", "", "", ""]
        row += [
            _num(a.get("top1_agreement")),
            _num(a.get("top5_agreement")),
            _num(a["cosine"]),
            f"{a['snr_db']:.1f}",
        ]
        rows.append(row)
    lines.append(table(EVAL_HEADERS, rows, style))
    hurt = next((r["classes_most_hurt"] for r in ev["results"].values() if "classes_most_hurt" in r), None)
    if hurt:
        lost = [f"{h['class']} ({h['recall_delta']:+.3f})" for h in hurt if h["recall_delta"] < 0]
        lines += ["", "classes that lost the most recall: " + (", ".join(lost) or "none")]
    for g in ev["gates"]:
        lines.append(f"gate {'PASS' if g['passed'] else 'FAIL'} ({g['judged']}): {g['detail']}")
    return "\n".join(lines)


EVAL_HEADERS = [
    "model",
    "dense acc",
    "pruned acc",
    "Δ acc",
    "Δ macro P",
    "Δ macro R",
    "top-1 agree",
    "top-5 agree",
    "cosine",
    "SNR dB",
]


def _num(x) -> str:
    return "" if x is None else f"{x:.4f}"


TIMINGS_ELSEWHERE = (
    "Stage timings are in manifest.json (run.timings_s), outside the hashed files,"
    " so that identical runs write identical reports."
)


def sections(report: dict, style: str, timings: dict[str, float] | None = None) -> list[tuple[str, str]]:
    """(title, body) pairs shared by the markdown and terminal renderings."""
    validation = report.get("validation")
    ev = report.get("evaluation")
    verdict = "not run" if validation is None else ("PASSED" if validation["passed"] else "FAILED")
    artifacts = [
        [a["file"], fmt_bytes(a["size"]), a["description"], a.get("accepted_by", "")]
        for a in report["artifacts"]
    ]
    timing_rows = [[k, f"{v:.2f} s"] for k, v in (timings or {}).items()]
    versions_row = ", ".join(f"{k} {v}" for k, v in report["versions"].items())
    return [
        (
            "Summary",
            "\n".join(summary_lines(report) + [f"validation: {verdict}", report["performance_note"]]),
        ),
        ("Per-layer sparsity", table(LAYER_HEADERS, layer_rows(report), style)),
        ("Artifacts", table(["file", "size", "what it is", "accepted by"], artifacts, style)),
        ("Size ledger", size_section(report.get("sizes"), style)),
        ("Validation", validation_section(report, style) if validation else "not run"),
        ("Task evaluation", evaluation_section(ev, style) if ev else "not run (--eval DATA)"),
        ("Stage timings", table(["stage", "time"], timing_rows, style) if timings else TIMINGS_ELSEWHERE),
        ("Versions", versions_row),
    ]
