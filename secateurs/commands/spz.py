"""`pack`, `unpack` and `inspect`: the .spz container from the command line."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from secateurs.errors import UsageError

force_option = click.option(
    "--force",
    "-f",
    is_flag=True,
    help="Replace an existing output (without it, an existing output is exit 2).",
)


def _spz_out(source: Path, out: Path | None, suffix_add: str | None) -> Path:
    if out is None:
        if suffix_add:
            out = source.with_name(source.name + suffix_add)
        elif source.name.endswith(".spz"):
            out = source.with_name(source.name[: -len(".spz")])
        else:
            raise UsageError(f"{source}: name does not end in .spz; give the output with -o")
    if out.resolve() == source.resolve():
        raise UsageError(f"{out}: output would overwrite the input")
    return out


@contextlib.contextmanager
def _no_clobber():
    """An existing output is a usage error (exit 2) naming --force, as gzip and zstd refuse."""
    from secateurs import spz
    from secateurs.exporters.spz_container import spz_errors

    try:
        with spz_errors():
            yield
    except UsageError as e:
        if isinstance(e.__cause__, spz.OutputExists):
            raise UsageError(f"{e}; pass --force to replace it") from e.__cause__
        raise


@click.command()
@click.argument("onnx_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="[default: ONNX_FILE.spz]"
)
@click.option("--level", type=click.IntRange(1, 22), default=3, show_default=True, help="zstd level.")
@force_option
def pack(onnx_file, output, level, force):
    """Pack any ONNX file (and its external data) into the smallest .spz container.

    Every tensor is stored in its smallest exact encoding; `secateurs unpack` restores
    the original bytes (same sha256). Works on ONNX files from any exporter. An existing
    output is refused (exit 2) unless --force.

    \b
    Example:
      secateurs pack model.onnx -o model.onnx.spz
    """
    from secateurs import spz
    from secateurs.report.formats import fmt_bytes

    output = _spz_out(onnx_file, output, ".spz")
    with _no_clobber():
        stats = spz.pack(onnx_file, output, level=level, overwrite=force)
    click.echo(
        f"{output}: {fmt_bytes(stats.output_bytes)} from {fmt_bytes(stats.input_bytes)}"
        f" ({stats.ratio:.3f}), {stats.tensors} tensors, {stats.seconds:.2f} s"
    )


@click.command()
@click.argument("spz_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="[default: SPZ_FILE without .spz]"
)
@force_option
def unpack(spz_file, output, force):
    """Restore the exact ONNX file (and external data files beside it) from a .spz container.

    An existing output file, or external data file, is refused (exit 2) unless --force.

    \b
    Example:
      secateurs unpack model.onnx.spz -o model.onnx && sha256sum model.onnx
    """
    from secateurs import spz

    output = _spz_out(spz_file, output, None)
    with _no_clobber():
        restored = spz.unpack(spz_file, output, overwrite=force)
    click.echo(str(restored))


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def inspect(file):
    """Per tensor of an .onnx or .spz file: shape, sparsity, and the bytes each encoding takes.

    For an .onnx it shows what every encoding would take and what `pack` would choose; for
    an .spz, what it chose. A totals row closes the table; a legend explains the columns.

    \b
    Example:
      secateurs inspect artifacts/resnet/model.onnx
    """
    from secateurs import spz
    from secateurs.exporters.spz_container import spz_errors
    from secateurs.report.tensors import tensor_blocks
    from secateurs.report.terminal import body
    from secateurs.spz.container import MAGIC

    with spz_errors():
        infos = spz.inspect(file)
    with open(file, "rb") as f:
        packed = f.read(len(MAGIC)) == MAGIC
    click.echo(body(tensor_blocks(infos, packed)))
    if not packed:
        _say_sparse_initializers(file)


def _say_sparse_initializers(file: Path) -> None:
    """The table lists dense tensor payloads; a model.sparse.onnx keeps its pruned weights in
    graph.sparse_initializer (already COO-encoded), which it does not list: say so, with totals."""
    import numpy as np
    import onnx

    try:
        graph = onnx.load(str(file), load_external_data=False).graph
    except Exception:  # not parseable as ONNX: spz.inspect above already judged the file
        return
    sparse = list(graph.sparse_initializer)
    if not sparse:
        return
    numel = sum(int(np.prod(s.dims)) for s in sparse)
    nnz = sum(int(np.prod(s.values.dims)) for s in sparse)
    stored = sum(s.ByteSize() for s in sparse)
    click.echo(
        f"\nnot in the table: {len(sparse)} graph.sparse_initializer tensors (the pruned weights, stored"
        f" as nonzero values + indices): {nnz:,} of {numel:,} values stored ({1 - nnz / numel:.2%} zeros"
        f" dropped), {stored:,} bytes"
    )
