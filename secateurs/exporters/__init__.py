"""Artifact formats: one module per format, registered by name, holding all it knows.

A format is a ``Format`` subclass decorated with ``@register``. It declares what it is
(name, filename, description, who accepts it, the runtimes that load it, whether it is
written from model.onnx, what the size ledger weighs it against), writes itself
(``export``), decodes itself (``decode``) and says what proves it: ``checks`` in
`validate`, ``deploy_checks`` in the torch-free `verify`. Formats listing onnxruntime
among their ``runtimes`` are also run there against the PyTorch outputs; derived ones
must give outputs bit-identical to model.onnx.

The registry imports every module of this package except ``*_codec``, ``*_torch`` and the
``common`` helpers. So a format module's top level stays light (stdlib and light secateurs
modules): it is on the path of ``secateurs --help`` and of `verify`, which runs without
torch. Its heavy parts sit beside it and are imported where used: ``<module>_codec.py``
encodes and decodes with numpy/onnx only (exact inverses), ``<module>_torch.py`` holds
what needs torch.

Adding a format: write ``exporters/<module>.py`` with one registered ``Format`` subclass
(plus ``_codec``/``_torch`` siblings if it needs them), and its round-trip test: give its
encoder to ``ENCODERS`` in tests/test_formats.py, which runs ``decode`` on a real file per
shape x sparsity x dtype and asserts bit equality (a format with a decoder but no entry
fails there); codec-specific cases go in tests/test_format_<module>.py. Nothing else names
it: --formats and its default, export order, validate, verify and the size ledger loop over
the registered formats, ordered by ``position``.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, ClassVar

from secateurs.errors import UsageError

if TYPE_CHECKING:  # no secateurs.validators here: config imports this registry, and sits below it
    import numpy as np

ONNXRUNTIME = "onnxruntime"  # in ``runtimes``: validate and verify run the file in onnxruntime
DENSE_ONNX = "onnx"  # the format the derived ones are written from (model.onnx)
AGAINST_ONNX = "model.onnx"  # size_reference: the file's size against model.onnx
AGAINST_WEIGHTS = "pruned weights, dense"  # size_reference: against the pruned weights' dense bytes


@dataclass
class CheckInputs:
    """What `validate` hands each format's ``checks``: the run (a RunContext), its pruned
    weights by layer (numpy), and model.onnx parsed (None when it was not exported)."""

    ctx: Any
    weights: dict[str, np.ndarray]
    dense_model: Any = None


class Format:
    """One artifact format. Subclasses set every declaration below; ``register`` checks that."""

    name: ClassVar[str]  # what --formats selects
    filename: ClassVar[str]  # the file it writes into the artifact directory
    description: ClassVar[str]  # one line, for --formats and the report
    accepted_by: ClassVar[str]  # who reads it, in words, for the report
    position: ClassVar[int]  # order in the default --formats, export, validation and report
    runtimes: ClassVar[tuple[str, ...]] = ()  # what loads it directly (ONNXRUNTIME: run it)
    derives_from_onnx: ClassVar[bool] = False  # written from model.onnx, so it needs that first
    size_reference: ClassVar[str | None] = AGAINST_ONNX  # None: not in the size ledger
    per_tensor_cost: ClassVar[bool] = True  # its records' stored_bytes are what each tensor costs
    default: ClassVar[bool] = True  # written when --formats is not given

    def export(self, ctx, path: Path) -> None:
        """Write exactly ``path`` (plus ``<name>.data`` for ONNX external data) from the run."""
        raise NotImplementedError

    def decode(self, path: Path) -> dict[str, np.ndarray]:
        """The tensors the file encodes, by name, decoded exactly; torch-free."""
        raise NotImplementedError(f"format {self.name!r} encodes no tensors of its own")

    def checks(self, run: CheckInputs, path: Path) -> list:
        """The format's own Checks in `validate` (the onnxruntime runs come after them)."""
        return []

    def deploy_checks(self, rel: str, path: Path, directory: Path, listed: dict[str, dict]) -> list:
        """Its Checks in torch-free `verify` on a listed file; ``listed`` is the manifest by path."""
        return []


_DECLARED = ("name", "filename", "description", "accepted_by", "position")
_REGISTRY: dict[str, type[Format]] = {}
_loaded = False


def register(cls: type[Format]) -> type[Format]:
    """Class decorator: make a format selectable by its ``name``."""
    missing = [a for a in _DECLARED if a not in vars(cls)]
    if missing:
        raise TypeError(f"format {cls.__name__} does not declare {', '.join(missing)}")
    for other in _REGISTRY.values():
        for attr in ("name", "filename", "position"):
            if getattr(other, attr) == getattr(cls, attr):
                raise ValueError(
                    f"formats {other.__name__} and {cls.__name__} share {attr} {getattr(cls, attr)!r}"
                )
    _REGISTRY[cls.name] = cls
    return cls


def _load() -> None:
    """Import every format module once (see the module doc for which)."""
    global _loaded
    if _loaded:
        return
    for info in pkgutil.iter_modules(__path__):
        if not info.ispkg and not info.name.endswith(("_codec", "_torch")):
            importlib.import_module(f"{__name__}.{info.name}")
    _loaded = True


def formats() -> tuple[Format, ...]:
    """Every registered format, in ``position`` order."""
    _load()
    return tuple(cls() for cls in sorted(_REGISTRY.values(), key=lambda c: c.position))


def names() -> tuple[str, ...]:
    return tuple(f.name for f in formats())


def default_names() -> tuple[str, ...]:
    """The formats written when --formats is not given (those declaring ``default``)."""
    return tuple(f.name for f in formats() if f.default)


def get(name: str) -> Format:
    """The format called ``name``; an unknown name lists the registered ones."""
    _load()
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise UsageError(f"unknown format {name!r}; choose from: {', '.join(names())}") from None


def for_file(rel: str) -> Format | None:
    """The format whose file ``rel`` (a manifest path) is, by its file name; None if none."""
    filename = PurePosixPath(rel).name
    return next((f for f in formats() if f.filename == filename), None)
