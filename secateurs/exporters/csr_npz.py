"""weights.npz: each pruned weight as a scipy.sparse CSR matrix [out, in*kh*kw], for Python.

Read it back with ``secateurs.sparse.csr_npz.load_csr_npz`` (dense numpy arrays) or
``load_csr_matrices`` (scipy CSR matrices, format-checked).
"""

from __future__ import annotations

from pathlib import Path

from secateurs.exporters import register


@register
class CsrNpz:
    name = "npz"
    filename = "weights.npz"
    description = "pruned weights as scipy CSR (secateurs.sparse.csr_npz.load_csr_npz)"
    accepted_by = "numpy/scipy (secateurs.sparse.csr_npz loaders)"

    def export(self, ctx, path: Path) -> None:
        from secateurs.sparse.csr_npz import save_csr_npz

        ctx.encodings[self.name] = save_csr_npz(ctx.pruned_weights(), path)
