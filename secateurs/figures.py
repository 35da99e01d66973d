"""Figures as PNG files: matplotlib (Agg backend, imported on use), written atomically.

Shared by the tuning plots and the detection evaluation's pictures; it sits low in the
layers so both can use it.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from secateurs import files

# No "Software" text chunk: the PNG bytes do not change with the matplotlib version.
PNG_METADATA = {"Software": None}


@contextlib.contextmanager
def png_figure(path: Path, *args, tight: bool = True, **kwargs):
    """``plt.subplots(*args, **kwargs)`` as (fig, axes) to draw on; then laid out (``tight``:
    tight_layout, else as the drawing placed it), rendered as PNG and written atomically to
    ``path`` (files.write_bytes). Closed even when drawing fails."""
    # on use: choosing the Agg backend is process-wide, and `run --auto` imports the tuning
    # plots (through tuning.sweep) without plotting (matplotlib: ~1.3 s)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(*args, **kwargs)
    try:
        yield fig, axes
        if tight:  # measures every text to place it: a third of a small figure's time
            fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, metadata=PNG_METADATA)
    finally:
        plt.close(fig)
    files.write_bytes(path, buf.getvalue())
