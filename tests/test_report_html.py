"""report.html: self-contained, escaped, and showing the same numbers as report.md."""

import json
import re
import shutil
import subprocess
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from secateurs.config import RunConfig
from secateurs.pipeline.runner import execute
from secateurs.report import render_html
from secateurs.report.formats import fmt_pct

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def residual(tmp_path_factory):
    out = tmp_path_factory.mktemp("residual") / "out"
    _, report = execute(
        RunConfig(model="tests.models:residual", out=out, amount=0.5, exporter="torchscript"),
        ["load", "prune", "export", "validate"],
    )
    return out, report


@pytest.fixture(scope="module")
def resnet_eval(resnet_digits):
    """builtin:resnet judged on builtin:digits with a gate (the session's shared run, read only)."""
    return resnet_digits, json.loads((resnet_digits / "report.json").read_text())


@pytest.fixture(scope="module")
def detector_eval(detector_labelled):
    """A detector judged on labelled boxes: its page embeds the PR curves and the drawn boxes."""
    return detector_labelled, json.loads((detector_labelled / "report.json").read_text())


def page_of(out: Path) -> str:
    """report.html as the runner wrote it."""
    return (out / "report.html").read_text()


def md_cells(md: str) -> set[str]:
    """Every cell of every markdown table in report.md, as text (`code` spans without backticks)."""
    cells = set()
    for line in md.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells |= {c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])}
    return {c.replace("`", "") for c in cells if c}


class HtmlCells(HTMLParser):
    """The text content of every table cell (th, td) of a page, entities decoded."""

    def __init__(self, page: str):
        super().__init__()
        self.cells: set[str] = set()
        self._text: list[str] | None = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th"):
            self._text = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._text is not None:
            self.cells.add("".join(self._text))
            self._text = None

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)


@pytest.mark.parametrize("which", ["residual", "resnet_eval", "detector_eval"])
def test_html_is_written_listed_and_self_contained(request, which):
    out, report = request.getfixturevalue(which)
    page = page_of(out)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert all(src.startswith("data:") for src in re.findall(r'src="([^"]*)"', page))
    assert "PASSED" in page and report["performance_note"] in page


@pytest.mark.parametrize("which", ["residual", "resnet_eval"])
def test_html_holds_the_numbers_of_report_md(request, which):
    out, report = request.getfixturevalue(which)
    page = page_of(out)
    md = (out / "report.md").read_text()
    for key in ("pruned_tensors", "all_parameters"):
        pct = fmt_pct(report["sparsity"][key]["sparsity"])
        assert pct in md and pct in page
        assert f"{report['sparsity'][key]['numel']:,}" in page
    for a in report["artifacts"]:
        assert a["file"] in page
    for c in report["validation"]["checks"]:
        assert escape(c["name"]) in page
    cells = md_cells(md)
    assert any("unpack" in c for c in cells)  # cells with `code` are checked too
    missing = cells - HtmlCells(page).cells
    assert not missing  # every markdown table cell is an HTML table cell with the same text


def test_runner_writes_html_into_the_manifest(residual):
    out, _ = residual
    assert (out / "report.html").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert "report.html" in {f["path"] for f in manifest["files"]}


def test_html_shows_evaluation_and_gates(resnet_eval):
    out, report = resnet_eval
    page = page_of(out)
    assert "Task evaluation" in page and "not run (--eval DATA)" not in page
    delta = report["evaluation"]["results"]["onnx"]["delta"]["accuracy"]
    assert f"{delta:+.4f}" in page
    gate = report["evaluation"]["gates"][0]
    assert escape(gate["detail"]) in page and 'class="PASS">gate PASS' in page


def test_html_escapes_untrusted_text(residual):
    _, report = residual
    evil = "<script>alert(1)</script>"
    bad = json.loads(json.dumps(report))
    bad["model"]["spec"] = f"evil.py:{evil}"
    bad["model"]["notes"] = [evil]
    bad["artifacts"][0]["description"] = evil
    bad["validation"]["checks"][0]["detail"] = evil
    bad["layers"][0]["name"] = evil
    page = render_html(bad, {evil: b"\x89PNG fake"})
    assert "<script" not in page
    assert page.count("&lt;script&gt;") >= 6


def test_extra_images_are_inlined(residual):
    _, report = residual
    page = render_html(report, {"sweep: sparsity vs accuracy": b"\x89PNG\r\n\x1a\n"})
    assert "Sweep and sensitivity" in page
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in page
    assert "Sweep and sensitivity" not in render_html(report)


@pytest.fixture(scope="module")
def pruned_only(tmp_path_factory):
    """`prune` alone: the page of a directory no export or validation has touched yet."""
    out = tmp_path_factory.mktemp("pruned") / "out"
    _, report = execute(
        RunConfig(model="tests.models:residual", out=out, amount=0.5), ["load", "prune", "save"]
    )
    return out, report


def screenshot(page: Path, png: Path, profile: Path, height: int) -> None:
    """report.html in headless chromium at 1280 px wide, scrollbars hidden."""
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--screenshot={png}",
        f"--window-size=1280,{height}",
        page.resolve().as_uri(),
    ]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.browser  # deselected by default; `pytest --browser` runs it (see tests/conftest.py)
@pytest.mark.parametrize("which", ["resnet_eval", "pruned_only", "detector_eval"])
def test_headless_chromium_renders_the_page_inside_its_column(request, tmp_path, which):
    """The page drawn at 1280 px: its sections sit in the centred 1180 px column, and nothing
    (a wide table, a long name, a picture) spills into the margins; the whole page fits the shot."""
    from PIL import Image

    assert CHROMIUM.exists(), "needs /usr/bin/chromium (apt-get install chromium)"
    out, _ = request.getfixturevalue(which)
    page = tmp_path / "report.html"
    page.write_text(page_of(out))
    png = tmp_path / "report.png"
    screenshot(page, png, tmp_path / "profile", 6000)
    assert png.is_file(), "chromium wrote no screenshot"
    image = Image.open(png).convert("RGB")
    assert image.size == (1280, 6000)
    background = image.getpixel((0, 0))
    drawn = [x for x in range(1280) if any(image.getpixel((x, y)) != background for y in range(0, 6000, 3))]
    assert drawn, "a blank page"
    assert (drawn[0], drawn[-1]) == (50, 1229)  # the 1180 px column and nothing beside it
    bottom = image.crop((0, 5900, 1280, 6000))
    assert bottom.getcolors() == [(1280 * 100, background)]  # the page ended inside the shot
    sections = sum(1 for y in range(6000) if image.getpixel((50, y)) != background)
    assert sections > 300  # the section boxes' left borders: a page, not a heading
