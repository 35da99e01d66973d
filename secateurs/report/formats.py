"""Number formatting shared by every report and command, so a figure reads the same everywhere."""

from __future__ import annotations


def fmt_pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def fmt_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n} B"


def fmt_num(x: float | None, spec: str = ".4f") -> str:
    """A figure, or empty where there is none."""
    return "" if x is None else format(x, spec)
