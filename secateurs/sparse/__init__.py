"""Sparse encodings of pruned weights: exact, loss-free transforms, one format per module.

- ``coo``: ONNX ``graph.sparse_initializer`` (saves disk; onnxruntime densifies at load).
- ``bitmask_graph``: a plain ONNX graph that decodes its own packed-bitmask weights.
- ``csr_npz``: one ``.npz`` of CSR matrices for Python consumers.

Every format treats ``-0.0`` as a zero, so decoded zeros are always ``+0.0``; each
encoder notes how many negative zeros it canonicalized. Heavy imports (onnx, scipy)
happen inside the functions, so importing this package stays cheap.
"""

from __future__ import annotations

from secateurs.sparse.records import TensorEncoding

__all__ = ["TensorEncoding"]
