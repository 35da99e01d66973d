"""Artifact formats, one module each, registered by name.

An exporter is a class with a ``name``, the ``filename`` it writes, a one-line
``description``, and ``export(ctx, path)`` that writes exactly that file. Formats
derived from model.onnx set ``needs_onnx = True``. The export stage runs ``onnx``
first, then the others in the order given.
"""

from __future__ import annotations

from typing import Protocol

from secateurs.errors import UsageError


class Exporter(Protocol):
    name: str
    filename: str
    description: str

    def export(self, ctx, path) -> None: ...


_REGISTRY: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: make an exporter selectable by its ``name``."""
    if cls.name in _REGISTRY:
        raise ValueError(f"exporter {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtin_exporters() -> None:
    # Importing the modules runs their @register decorators.
    from secateurs.exporters import (  # noqa: F401
        bitmask_onnx,
        csr_npz,
        onnx_model,
        safetensors_weights,
        sparse_onnx,
        spz_container,
    )


def names() -> list[str]:
    _load_builtin_exporters()
    return list(_REGISTRY)


def get(name: str) -> Exporter:
    """Return a fresh exporter; an unknown name lists the registered ones."""
    _load_builtin_exporters()
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise UsageError(f"unknown format {name!r}; choose from: {', '.join(_REGISTRY)}") from None
