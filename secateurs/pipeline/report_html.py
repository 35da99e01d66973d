"""report.html: one self-contained page rendered from the same report dict as report.md.

Numbers come from report.py's row builders and section text, so the page and the markdown
cannot disagree. Nothing is fetched: the CSS is inline, bars are HTML/CSS, and extra plots
(sweep, sensitivity) are embedded as ``data:image/png;base64`` URIs.
"""

from __future__ import annotations

import base64
import re
from html import escape

from secateurs.pipeline import report_sections as rpt
from secateurs.pipeline.tables import fmt_pct

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
 background:#f6f8fa;margin:0}
main{max-width:1180px;margin:0 auto;padding:24px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 20px;margin:16px 0}
h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:0 0 12px}
.badge{display:inline-block;padding:2px 12px;border-radius:12px;color:#fff;font-weight:600;
 font-size:13px;vertical-align:middle;margin-left:8px;letter-spacing:.04em}
.ok{background:#1a7f37}.bad{background:#cf222e}
.note{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:8px 12px;margin:8px 0 0}
.tiles{display:flex;gap:16px;flex-wrap:wrap;margin-bottom:10px}
.tile{flex:1 1 300px;border:1px solid #d0d7de;border-radius:8px;padding:10px 14px}
.tile b{display:block;font-size:26px}.tile small{color:#57606a}
table{border-collapse:collapse;width:100%;font-size:13px;margin:6px 0}
table.narrow{width:auto;min-width:320px}code{background:#eff1f3;border-radius:4px;padding:0 4px;font-size:12px}
th,td{border-bottom:1px solid #eaeef2;padding:4px 8px;text-align:left;white-space:nowrap}
td.wrap{white-space:normal}th{background:#f6f8fa;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.PASS,span.PASS{color:#1a7f37;font-weight:600}td.FAIL,span.FAIL{color:#cf222e;font-weight:700}
td.warn{color:#9a6700;font-weight:600}td.neg{color:#cf222e}td.pos{color:#1a7f37}
.bar{position:relative;height:14px;background:#eaeef2;border-radius:3px;min-width:220px}
.fill{position:absolute;left:0;top:0;bottom:0;background:#0969da;border-radius:3px}
.fill.alt{background:#8250df}.fill.bad{background:#cf222e}
.tick{position:absolute;top:-3px;bottom:-3px;width:2px;background:#1f2328}
.legend{color:#57606a;font-size:12px}.muted{color:#57606a}
figure{margin:8px 0}img{max-width:100%;border:1px solid #d0d7de;border-radius:6px}
details summary{cursor:pointer;color:#0969da;margin:8px 0}
"""
NUM = re.compile(r"^[+-]?[\d,.]+(e[+-]?\d+)?( ?(%|B|KiB|MiB|GiB|s))?$")


def render_html(report: dict, extra_images: dict[str, bytes] | None = None) -> str:
    """The whole page; ``extra_images`` maps a caption to PNG bytes (sweep/sensitivity plots)."""
    body = {title: text for title, text in rpt.sections(report, "md")}
    ev = report.get("evaluation")
    parts = [
        _header(report),
        _section("Summary", _summary(report)),
        _section("Per-layer sparsity", _layers(report)),
        _section("Artifacts", _md(body["Artifacts"])),
        _section("Size ledger", _sizes(report.get("sizes"))),
        _section("Validation", _validation(report) if report.get("validation") else "<p>not run</p>"),
        _section("Task evaluation", _md(body["Task evaluation"]) if ev else "<p>not run (--eval DATA)</p>"),
    ]
    if extra_images:
        parts.append(_section("Sweep and sensitivity", _images(extra_images)))
    parts += [
        _section("Stage timings", _md(body["Stage timings"])),
        _section("Versions", _md(body["Versions"])),
    ]
    spec = (report.get("model") or {}).get("spec", "?")
    return _page(f"secateurs report: {spec}", parts)


def render_plots_page(title: str, table_md: str, images: dict[str, bytes]) -> str:
    """A self-contained page for `sweep` and `sensitivity`: their table and their plots."""
    return _page(
        title,
        [f"<h1>{escape(title)}</h1>", _section("Plots", _images(images)), _section("Table", _md(table_md))],
    )


def write_plots_page(out, title: str, table_md: str, png) -> None:
    """report.html for `sweep`/`sensitivity`: their table and plot in one self-contained file."""
    from secateurs import files

    files.write_text(out / "report.html", render_plots_page(title, table_md, {png.name: png.read_bytes()}))


def _page(title: str, parts: list[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        "<body><main>\n" + "\n".join(parts) + "\n</main></body></html>\n"
    )


def _section(title: str, inner: str) -> str:
    return f"<section><h2>{escape(title)}</h2>\n{inner}\n</section>"


def _header(report: dict) -> str:
    status = str(report.get("status", "?"))
    cls = "ok" if status == "passed" else "bad"
    spec = (report.get("model") or {}).get("spec", "?")
    notes = (report.get("model") or {}).get("notes") or []
    extra = "".join(f'<p class="muted">{escape(str(n))}</p>' for n in notes)
    return (
        f'<section><h1>secateurs report: {escape(spec)}<span class="badge {cls}">'
        f"{escape(status.upper())}</span></h1>"
        f'<div class="note">{escape(report["performance_note"])}</div>{extra}</section>'
    )


def _summary(report: dict) -> str:
    tiles = []
    for key, label in (("pruned_tensors", "pruned Conv2d weights"), ("all_parameters", "all parameters")):
        s = report["sparsity"][key]
        tiles.append(
            f'<div class="tile"><small>sparsity over {escape(label)}</small><b>{fmt_pct(s["sparsity"])}</b>'
            f"{s['zeros']:,} / {s['numel']:,} zeros<br><small>{escape(s['denominator'])}</small></div>"
        )
    v = report.get("validation")
    verdict = "not run" if v is None else ("PASS" if v["passed"] else "FAIL")
    lines = rpt.summary_lines(report)[:1] if report.get("model") else []  # the tiles hold the rest
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    items += f'<li>validation: <span class="{verdict}">{escape(verdict)}</span></li>'
    return f'<div class="tiles">{"".join(tiles)}</div><ul>{items}</ul>'


def _bar(fraction: float, tick: float | None = None, cls: str = "") -> str:
    width = max(0.0, min(1.0, fraction)) * 100
    mark = (
        ""
        if tick is None
        else f'<span class="tick" style="left:{max(0.0, min(1.0, tick)) * 100:.2f}%"></span>'
    )
    return f'<div class="bar"><span class="fill {cls}" style="width:{width:.2f}%"></span>{mark}</div>'


def _layers(report: dict) -> str:
    headers = [*rpt.LAYER_HEADERS[:4], "achieved (bar) / target (tick)", *rpt.LAYER_HEADERS[4:]]
    rows = []
    for layer, row in zip(report["layers"], rpt.layer_rows(report), strict=True):
        bar = _bar(_float(layer["sparsity"]), _float(layer["target"]))
        rows.append([*row[:4], ("html", bar), *row[4:]])
    legend = '<p class="legend">bar: achieved sparsity (0–100%); black tick: target</p>'
    return legend + _table(headers, rows)


def _sizes(sizes: dict | None) -> str:
    if not sizes:
        return "<p>no artifacts</p>"
    top = max([1.0] + [_float(a["ratio"]) for a in sizes["artifacts"] if a["ratio"] is not None])
    chart = []
    for row in rpt.size_rows(sizes):
        ratio = _float(row[3]) if row[3] else None
        if ratio is None:
            continue
        cls = "bad" if row[7] else ("alt" if row[0].startswith("(") else "")
        chart.append([row[0], row[1], ("html", _bar(ratio / top, 1.0 / top, cls)), row[3], row[2]])
    text = rpt.size_section(sizes, "md").split("\n\n")
    notes = "".join(f"<p>{escape(p)}</p>" for p in text[1:-1])
    headers, layer_rows = rpt.layer_size_rows(sizes)
    return (
        '<p class="legend">size relative to its dense reference; black tick: dense (ratio 1.0);'
        " purple: generic compressors of model.onnx</p>"
        + _table(["artifact", "size", "ratio (bar)", "ratio", "vs dense"], chart)
        + _table(rpt.SIZE_HEADERS, rpt.size_rows(sizes))
        + notes
        + "<details><summary>per-layer bytes</summary>"
        + _table(headers, layer_rows)
        + "</details>"
    )


def _validation(report: dict) -> str:
    head, _, _ = rpt.validation_section(report, "md").partition("\n\n")
    v = report["validation"]
    count = f"{v.get('n_checks', len(v.get('checks', [])))} checks, {v.get('n_failed', 0)} failed"
    return f"<p>{escape(head)}; {escape(count)}</p>" + _table(rpt.CHECK_HEADERS, rpt.check_rows(report))


def _images(images: dict[str, bytes]) -> str:
    out = []
    for caption, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        out.append(
            f'<figure><img alt="{escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>"
        )
    return "".join(out)


def _md(text: str) -> str:
    """Markdown section body (tables and plain lines) as HTML, keeping every cell's text."""
    out, rows = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            if not line.startswith("|---"):
                cells = re.split(r"(?<!\\)\|", line.strip()[1:-1])
                rows.append([c.strip().replace("\\|", "|") for c in cells])
            continue
        if rows:
            out.append(_table(rows[0], rows[1:]))
            rows = []
        if line.strip():
            verdict = re.search(r"\b(PASS|FAIL)\b", line) if line.startswith("gate ") else None
            cls = f' class="{verdict.group(1)}"' if verdict else ""
            out.append(f"<p{cls}>{escape(line)}</p>")
    return "".join(out)


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    narrow = ' class="narrow"' if len(headers) <= 2 else ""
    return f"<table{narrow}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(cell) -> str:
    if isinstance(cell, tuple):  # ("html", markup) built here, already escaped
        return f"<td>{cell[1]}</td>"
    text = str(cell)
    if text in ("PASS", "FAIL"):
        cls = text
    elif text == "LARGER THAN DENSE":
        cls = "warn"
    elif NUM.match(text):
        cls = "num neg" if text.startswith("-") else ("num pos" if text.startswith("+") else "num")
    else:
        cls = "wrap" if len(text) > 40 else ""
    text = re.sub(r"`([^`<>]+)`", r"<code>\1</code>", escape(text))  # after escaping: safe
    return f'<td class="{cls}">{text}</td>' if cls else f"<td>{text}</td>"


def _float(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return 0.0
