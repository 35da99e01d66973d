"""model.onnx.spz: model.onnx with every tensor in its smallest encoding, zstd-compressed.

``secateurs unpack`` restores model.onnx byte for byte (docs/FORMAT.md); the codec is
the torch-free ``secateurs.spz`` package. No runtime loads .spz directly: it is the
artifact to ship and store, unpacked at deploy time. Both `validate` and `verify` prove
it by unpacking it and comparing sha256s.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from secateurs import spz
from secateurs.errors import InputError, OutputError, SecateursError, UsageError
from secateurs.exporters import DENSE_ONNX, CheckInputs, Format, get, register
from secateurs.validators.results import Check


def project_error(e: spz.SpzError) -> SecateursError:
    """The secateurs error (and so exit code) for what spz raised, with the same message:
    a bad input file exits 3, a failed write 5, a bad argument 2."""
    if isinstance(e, spz.WriteFailed):
        return OutputError(str(e))
    if isinstance(e, spz.InvalidArgument):
        return UsageError(str(e))
    return InputError(str(e))


@contextmanager
def spz_errors() -> Iterator[None]:
    """Re-raise spz's errors as the project's (``project_error``), chained to the original."""
    try:
        yield
    except spz.SpzError as e:
        raise project_error(e) from e


@register
class SpzContainer(Format):
    name = "spz"
    filename = "model.onnx.spz"
    description = "model.onnx packed; `secateurs unpack` restores it byte for byte"
    accepted_by = "no runtime: `secateurs unpack` first (restores model.onnx exactly)"
    position = 4
    derives_from_onnx = True

    def export(self, ctx, path: Path) -> None:
        from secateurs.exporters.common.onnx_derived import dense_onnx_path, pruned_initializers

        with spz_errors():
            spz.pack(dense_onnx_path(ctx), path)
        ctx.encodings[self.name] = tensor_records(path, set(pruned_initializers(ctx)))

    def checks(self, run: CheckInputs, path: Path) -> list[Check]:
        from secateurs.exporters.common.onnx_derived import dense_onnx_path

        return [round_trip(path, dense_onnx_path(run.ctx))]

    def deploy_checks(self, rel: str, path: Path, directory: Path, listed: dict[str, dict]) -> list[Check]:
        """It unpacks (in the system temp dir) to the sha256s the manifest lists beside it."""
        folder = PurePosixPath(rel).parent
        target = (folder / get(DENSE_ONNX).filename).as_posix()
        label = f"unpacks to {PurePosixPath(target).name} (sha256)"
        if target not in listed:
            return [Check(rel, label, False, f"{target} is not listed in the manifest")]
        expected = {
            PurePosixPath(p).relative_to(folder).as_posix(): e["sha256"]
            for p, e in listed.items()
            if PurePosixPath(p).parent == folder
        }
        try:
            check = round_trip(
                path, directory / target, scratch_dir=Path(tempfile.gettempdir()), expected_sha256=expected
            )
        except Exception as e:  # a corrupt container must be a failed check, whatever the decoder raised
            check = Check(
                rel, label, False, f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
            )
        check.artifact = rel
        return [check]


def round_trip(
    path: Path,
    onnx_path: Path,
    scratch_dir: Path | None = None,
    expected_sha256: dict[str, str] | None = None,
) -> Check:
    """Unpack into a scratch folder; model.onnx and any external-data file must match by sha256.

    The scratch folder goes in ``scratch_dir`` (default: beside ``path``; `verify` uses the
    system temp dir, as a deployed artifact directory may be read-only). The unpacked files
    are compared with the files beside ``onnx_path``, or, when ``expected_sha256`` is given,
    with those hashes (name relative to ``onnx_path``'s folder -> sha256, e.g. the manifest's).
    """
    from secateurs.manifest import sha256

    def matches(name: str, restored: Path) -> bool:
        if expected_sha256 is not None:
            return expected_sha256.get(name) == sha256(restored)
        original = onnx_path.parent / name
        return original.is_file() and sha256(restored) == sha256(original)

    label = "unpacks to model.onnx (sha256)"
    scratch = path.parent if scratch_dir is None else scratch_dir
    with tempfile.TemporaryDirectory(dir=scratch, prefix=".unpack-") as tmp:
        try:
            spz.unpack(path, Path(tmp) / onnx_path.name)
        except (spz.SpzError, SecateursError) as e:
            return Check(path.name, label, False, str(e))
        restored = sorted(p for p in Path(tmp).rglob("*") if p.is_file())
        names = [p.relative_to(tmp).as_posix() for p in restored]
        wrong = [n for n, p in zip(names, restored) if not matches(n, p)]
    if onnx_path.name not in names:
        return Check(path.name, label, False, f"{onnx_path.name} missing from the container")
    if wrong:
        return Check(path.name, label, False, f"sha256 differs for {', '.join(wrong)}")
    return Check(path.name, label, True, f"{len(names)} file(s), sha256 equal")


def tensor_records(path: Path, names: set[str]) -> list:
    """What the container spent on each named tensor, from its own index."""
    from secateurs.exporters.common.records import TensorEncoding

    records = []
    with spz_errors():
        infos = spz.inspect(path)
    for info in infos:
        if info.name not in names or info.file:
            continue
        numel = 1
        for d in info.shape:
            numel *= d
        records.append(
            TensorEncoding(
                name=info.name,
                shape=tuple(info.shape),
                dtype=info.dtype,
                numel=numel,
                nnz=round((1 - info.sparsity) * numel),
                dense_bytes=info.nbytes,
                stored_bytes=info.sizes.get(info.encoding, info.nbytes),
                encoding=info.encoding,
            )
        )
    return records
