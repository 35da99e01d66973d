"""Read weights.npz from Python: the public path the README and the report name.

The format itself lives in ``secateurs.exporters.csr_npz`` (declaration and checks) and
``secateurs.exporters.csr_npz_codec`` (the code re-exported here; numpy only, scipy for
``load_csr_matrices``).
"""

from secateurs.exporters.csr_npz_codec import FORMAT, load_csr_matrices, load_csr_npz

__all__ = ["FORMAT", "load_csr_matrices", "load_csr_npz"]
