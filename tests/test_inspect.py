"""`secateurs inspect`: a totals row that adds up, every column explained, small tensors folded."""

import pytest

from secateurs import exporters, spz
from secateurs.spz.choose import MIN_CUT_BYTES


@pytest.fixture(scope="module")
def exported(shared_runs):
    out, _, _ = shared_runs.execute(
        "tests.models:residual",
        ["load", "prune", "export"],
        amount=0.5,
        exporter="torchscript",
        formats=exporters.names(),
    )
    return out


def table_of(output: str) -> tuple[list[str], list[list[str]], list[str]]:
    """(headers, rows, legend lines) of inspect's output; cells are split on runs of 2+ spaces."""
    import re

    lines = output.splitlines()
    rule = lines[1]
    starts = [m.start() for m in re.finditer(r"-+", rule)]
    bounds = list(zip(starts, [*starts[1:], None]))
    split = [[line[a:b].strip() for a, b in bounds] for line in lines]
    end = lines.index("")
    return split[0], split[2:end], lines[end + 1 :]


def number(cell: str) -> int:
    return int(cell.replace(",", ""))


@pytest.mark.parametrize("name", ["model.onnx", "model.bitmask.onnx", "model.sparse.onnx", "model.onnx.spz"])
def test_totals_add_up_and_every_column_is_explained(cli, exported, name):
    result = cli("inspect", exported / name)
    assert result.exit_code == 0, result.output
    headers, rows, legend = table_of(result.output)
    infos = spz.inspect(exported / name)
    total = rows[-1]
    assert total[0] == f"total ({len(infos)} tensors)"
    assert number(total[headers.index("raw bytes")]) == sum(i.nbytes for i in infos)
    assert number(total[-1]) == sum(number(r[-1]) for r in rows[:-1])  # the bytes column adds up
    encodings = headers[headers.index("raw bytes") + 1 : -2]
    for column in encodings:
        assert any(line.startswith(f"  {column}: ") for line in legend), column
        assert all(r[headers.index(column)] for r in rows[:-1]), column  # no column of blanks
    for used in {r[-2] for r in rows[:-1]}:
        assert any(line.startswith(f"  {used}: ") for line in legend), used
    packed = name.endswith(".spz")
    assert headers[-2:] == (["stored as", "bytes"] if packed else ["chosen", "bytes"])
    assert (encodings == []) == packed  # an .spz knows only the encoding it used


def test_bitmask_decoder_constants_share_one_row(cli, exported):
    headers, rows, _ = table_of(cli("inspect", exported / "model.bitmask.onnx").output)
    names = [r[0] for r in rows]
    assert not any(n.startswith("bmk/") for n in names)  # the decoder's little constants ...
    small = [i for i in spz.inspect(exported / "model.bitmask.onnx") if i.nbytes < MIN_CUT_BYTES]
    assert any(i.name.startswith("bmk/") for i in small)
    assert f"({len(small)} tensors under {MIN_CUT_BYTES} B each)" in names  # ... are counted in one row
    assert "zeros" not in headers  # only all-zero decoder constants had a figure there


def test_sparse_initializers_the_table_cannot_list_are_named_with_totals(cli, shared_runs):
    import onnx

    out, _, _ = shared_runs.execute(
        "tests.models:residual", ["load", "prune", "export"], amount=0.95, exporter="torchscript"
    )
    graph = onnx.load(str(out / "model.sparse.onnx")).graph
    assert len(graph.sparse_initializer) > 0  # 95% zeros: COO is smaller, so the weights went sparse
    result = cli("inspect", out / "model.sparse.onnx")
    assert result.exit_code == 0, result.output
    nnz = sum(s.values.dims[0] for s in graph.sparse_initializer)
    assert (
        f"not in the table: {len(graph.sparse_initializer)} graph.sparse_initializer tensors" in result.output
    )
    assert f"{nnz:,} of " in result.output
    assert "not in the table" not in cli("inspect", out / "model.onnx").output
