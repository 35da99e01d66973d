"""Report blocks and their three renderers: classes from column kinds and tones, plain bytes."""

import pytest

from secateurs.report import html, markdown, terminal
from secateurs.report.blocks import (
    Bar,
    Cell,
    Column,
    Document,
    Image,
    Items,
    Paragraph,
    Section,
    Stat,
    Table,
    Verdict,
)
from secateurs.report.tuning import sweep_blocks


def doc() -> Document:
    table = Table(
        [Column("name"), Column("value", "number"), Column("bar", "bar"), Column("verdict", "verdict")],
        [
            [Cell("-1.5"), Cell("n/a"), Bar(0.5, 0.25), Cell("PASS")],
            [Cell("b|c"), Cell("2"), Bar(1.5, None, "fail"), Cell("FAIL", "fail")],
        ],
    )
    summary = Items(
        [
            "first line",
            Stat("short", "10.00%", "1 / 10", "of the pruned weights", "zeros"),
            Stat("a longer label", "5.00%", "5 / 100", "of everything"),
            Verdict("validation", "PASSED", "pass"),
        ]
    )
    return Document(
        "title",
        [
            Section("Summary", [summary]),
            Section(
                "Table",
                [Paragraph(["legend"], role="legend", rich=True), table, Paragraph(["gate"], attached=True)],
            ),
            Section("Plots", [Image("plot", b"\x89PNG")]),
        ],
        status="passed",
        status_tone="pass",
    )


def test_terminal_aligns_stats_and_drops_rich_blocks():
    text = terminal.render(doc())
    assert text.splitlines()[:5] == [
        "== Summary ==",
        "first line",
        "short:          10.00% (1 / 10; of the pruned weights)",
        "a longer label: 5.00% (5 / 100; of everything)",
        "validation: PASSED",
    ]
    assert "legend" not in text and "Plots" not in text and "bar" not in text
    assert "FAIL\ngate\n" in text  # an attached paragraph follows the table without a blank line


def test_markdown_bullets_escapes_pipes_and_drops_rich_blocks():
    md = markdown.render(doc())
    assert md.startswith("# title (passed)\n\n## Summary\n\n- first line\n- short:  ")
    assert "| b\\|c | 2 | FAIL |" in md and "| name | value | verdict |\n|---|---|---|" in md
    assert "legend" not in md and "## Plots" not in md


def test_html_classes_come_from_kind_and_tone_not_text():
    page = html.render(doc())
    assert "<td>-1.5</td>" in page  # a text column, whatever the text looks like
    assert '<td class="num">n/a</td>' in page  # a number column, whatever the text
    assert "<td>PASS</td>" in page and '<td class="FAIL">FAIL</td>' in page  # tone from the data
    assert '<span class="fill" style="width:50.00%"></span><span class="tick" style="left:25.00%">' in page
    assert '<span class="fill bad" style="width:100.00%"></span></div>' in page  # clamped
    assert '<span class="badge ok">PASSED</span>' in page
    assert '<p class="legend">legend</p>' in page and 'src="data:image/png;base64,iVBORw=="' in page
    assert '<li>validation: <span class="PASS">PASSED</span></li>' in page
    assert "<b>10.00%</b>1 / 10 zeros<br>" in page


def test_terminal_colours_pass_and_fail_only_when_asked():
    plain = terminal.render(doc())
    assert "\033[" not in plain
    coloured = terminal.render(doc(), color=True)
    assert "validation: \033[32mPASSED\033[0m" in coloured
    assert "\033[1;31mFAIL\033[0m" in coloured  # the toned cell; the untoned "PASS" cell stays plain
    assert "\033[32mPASS\033[0m" not in coloured
    # the colour codes wrap the word only: without them the lines are the plain ones
    assert coloured.replace("\033[32m", "").replace("\033[1;31m", "").replace("\033[0m", "") == plain


def test_coloured_table_columns_line_up_like_plain_ones():
    table = Table(
        [Column("verdict", "verdict"), Column("n")],
        [[Cell("FAIL", "fail"), Cell("1")], [Cell("PASS", "pass"), Cell("22")]],
    )
    lines = terminal.body([table], color=True).splitlines()
    assert lines[2] == "\033[1;31mFAIL\033[0m     1" and lines[3] == "\033[32mPASS\033[0m     22"


def test_html_code_spans_only_when_paired():
    table = Table([Column("a", "prose"), Column("b")], [[Cell("run `x` then `y`"), Cell("odd ` tick")]])
    page = html.render(Document("t", [Section("s", [table])]))
    assert "run <code>x</code> then <code>y</code>" in page and "odd ` tick" in page


def test_unknown_column_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown kind 'money'.*known: text"):
        Column("price", "money")


SWEEP = {
    "model": "m",
    "scope": "layer",
    "exporter": "dynamo",
    "eval": {"data": "builtin:digits", "samples": 360, "labels": True},
    "dense": {"accuracy": 0.95},
    "budget": {"max_accuracy_drop": 0.01, "min_agreement": None},
    "largest_amount_within_budget": 0.5,
}


def test_sweep_budget_column_is_a_toned_verdict_and_sizes_have_their_own_table():
    row = {"amount": 0.5, "sparsity": 0.5, "metrics": {"accuracy": 0.9}, "deltas": {"accuracy": -0.05}}
    rows = [dict(row, within_budget=True, sizes={"model.onnx": 2048 * 1024})]
    rows.append(dict(row, amount=0.9, within_budget=False, sizes={"model.onnx": 1024}))
    context, quality, legend, sizes = sweep_blocks({**SWEEP, "rows": rows})
    assert "KiB" in legend.lines[0] and [c.header for c in sizes.columns][2:] == ["model.onnx"]
    assert "largest amount within it: 0.5" in context.lines[-1]
    assert [c.header for c in quality.columns] == ["amount", "sparsity", "accuracy (Δ points)", "budget"]
    assert terminal.body([quality]).splitlines()[2:] == [
        "0.5     50.00%    90.00% (-5.00)       ok",
        "0.9     50.00%    90.00% (-5.00)       over",
    ]
    assert [c.text for c in sizes.rows[0]] == ["0.5", "50.00%", "2,048.0"]
    page = html.render(Document("t", [Section("s", [quality, sizes])]))
    assert '<td class="PASS">ok</td>' in page and '<td class="FAIL">over</td>' in page
    assert page.count('<div class="scroll"><table') == 2  # a wide table scrolls inside its card


def test_sweep_notes_follow_the_size_table():
    row = {"amount": 0.5, "sparsity": 0.5, "metrics": {}, "deltas": {}, "sizes": {"model.onnx": 1024}}
    note = "amount 1: model.onnx exported afresh: a's pruned weight equals initializer b.weight"
    assert sweep_blocks({**SWEEP, "eval": None, "dense": {}, "rows": [row], "notes": [note]})[-1].lines == [
        note
    ]
    assert "exported afresh" not in str(
        sweep_blocks({**SWEEP, "eval": None, "dense": {}, "rows": [row], "notes": []})
    )
