"""weights.npz: each pruned weight as a scipy.sparse CSR matrix [out, in*kh*kw], for Python.

Users read it back with ``secateurs.sparse.csr_npz.load_csr_npz`` (dense numpy arrays,
numpy only) or ``load_csr_matrices`` (scipy CSR matrices, format-checked): the public
path, re-exporting ``csr_npz_codec``. It is compressed as a whole, so the ledger weighs
the file, not its per-tensor bytes.
"""

from __future__ import annotations

from pathlib import Path

from secateurs.exporters import AGAINST_WEIGHTS, CheckInputs, Format, register


@register
class CsrNpz(Format):
    name = "npz"
    filename = "weights.npz"
    description = "pruned weights as scipy CSR (secateurs.sparse.csr_npz.load_csr_npz)"
    accepted_by = "numpy/scipy (secateurs.sparse.csr_npz loaders)"
    position = 5
    runtimes = ("numpy", "scipy")
    size_reference = AGAINST_WEIGHTS
    per_tensor_cost = False

    def export(self, ctx, path: Path) -> None:
        from secateurs.exporters.csr_npz_codec import save_csr_npz

        ctx.encodings[self.name] = save_csr_npz(ctx.pruned_weights(), path)

    def decode(self, path: Path) -> dict:
        from secateurs.exporters.csr_npz_codec import load_csr_npz

        return load_csr_npz(path)

    def checks(self, run: CheckInputs, path: Path) -> list:
        return [round_trip(path, run.weights)]


def round_trip(path: Path, pruned: dict):
    """Every matrix passes scipy's full format check and decodes to the pruned weight's bytes
    (one read of the file serves both)."""
    from secateurs.errors import SecateursError
    from secateurs.exporters.csr_npz_codec import load_checked
    from secateurs.validators import bit_exact
    from secateurs.validators.results import Check

    try:
        decoded = load_checked(path)
    except SecateursError as e:
        return Check(path.name, bit_exact.ROUND_TRIP, False, str(e))
    if set(decoded) != set(pruned):
        return Check(path.name, bit_exact.ROUND_TRIP, False, "weight names differ from the pruned layers")
    return bit_exact.verdict(path, decoded, pruned, len(pruned))
