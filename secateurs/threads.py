"""Size torch's and onnxruntime's thread pools for this process: ``apply(n)``.

The count is ``--threads N``, or by default the CPUs this process may use
(``secateurs.cpus.usable``: affinity and cgroup quota). The number of threads changes
wall time only, never an artifact's bytes, so it is recorded in manifest.json's ``run``
block, outside every hash.
"""

from __future__ import annotations

import torch

from secateurs import cpus


def apply(requested: int | None = None) -> int:
    """Set torch's intra-op threads and every later onnxruntime session's to ``requested``
    (None: the usable CPU count); return the count used. A bad count is a UsageError (exit 2)."""
    count = cpus.resolve(requested)
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return cpus.use(count)
