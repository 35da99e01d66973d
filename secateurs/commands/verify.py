"""`verify`: check an artifact directory before deploying it, without PyTorch."""

from __future__ import annotations

import re
from pathlib import Path

import click

from secateurs.commands.options import junit_option, provider_option, threads_option
from secateurs.errors import ValidationFailed


class HexDigest(click.ParamType):
    """A manifest digest is 64 hex digits; anything else is a usage error, not a failed check.

    A type, not a callback: a settings file's value goes through the same check, and its
    error names the file (settings_file._check casts values by type).
    """

    name = "HEX"

    def convert(self, value, param, ctx):
        if not re.fullmatch(r"[0-9a-fA-F]{64}", str(value)):
            self.fail(f"{value!r} is not a sha256 digest (64 hex digits, from manifest.json)", param, ctx)
        return str(value).lower()


@click.command()
@click.argument("directory", type=click.Path(path_type=Path))
@provider_option
@click.option(
    "--expect-digest",
    type=HexDigest(),
    help="Also require this manifest digest (pins the artifact set even against a recomputed manifest).",
)
@junit_option
@click.option(
    "--json",
    "json_out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the result (checks, verdict, digest) as JSON.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but the error line on failure.")
@lambda f: threads_option(f, "onnxruntime")
def verify(directory, provider, expect_digest, junit, json_out, quiet, threads):
    """Check DIRECTORY from `secateurs run` before deploying it; PyTorch need not be installed.

    Every file must match manifest.json (size and sha256) and nothing unlisted may be
    there; the manifest must match its digest (and --expect-digest, when given);
    report.json must say the run passed; every ONNX artifact must reproduce the
    PyTorch outputs stored in reference.npz within the tolerance recorded for the
    provider; model.onnx.spz must unpack to model.onnx's listed sha256. Nothing is
    written into DIRECTORY. Exit 0 when every check passes, 1 otherwise.

    \b
    Examples:
      secateurs verify artifacts/resnet
      secateurs verify artifacts/resnet --expect-digest "$(cat resnet.digest)" --junit reports/verify.xml
      secateurs verify /models/current --provider cuda --json verify.json
    """
    from secateurs import cpus
    from secateurs.verify import computed_digest, failure_line, verify_directory

    cpus.use(cpus.resolve(threads))  # onnxruntime's threads; verify runs no torch
    result = verify_directory(directory, provider, expect_digest)
    digest = computed_digest(directory)
    if junit is not None:
        from secateurs.ci.junit import write_junit

        write_junit(junit, f"secateurs verify {directory}", result.checks)
    if json_out is not None:
        from secateurs.files import write_json

        write_json(json_out, {**result.to_json(), "directory": str(directory), "digest": digest})
    failures = result.failures
    if not quiet:
        for c in failures:
            click.echo(_one_line(f"secateurs: verify: {c.artifact}: {c.name}: {c.detail}"), err=True)
        verdict = (
            f"{len(failures)} of {len(result.checks)} checks failed"
            if failures
            else f"{len(result.checks)} checks passed"
        )
        click.echo(f"{directory}: {verdict} on {provider}; digest {digest or 'unknown'}")
    if failures:
        raise ValidationFailed(failure_line(result))


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())
