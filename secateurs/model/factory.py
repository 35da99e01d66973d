"""Call a ``package.module:factory`` model spec: import the module (from the current
directory first, as ``python -m`` does) and call the factory; user code's failures become
InputError naming the spec, a spec that names a file becomes a hint (UsageError)."""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
from pathlib import Path

from secateurs.config import BUILTIN_MODELS
from secateurs.errors import InputError, UsageError

FACTORY_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def check_model_spec(spec: str) -> None:
    """``spec`` is builtin:NAME of a known builtin, package.module:factory or an existing file
    (checked before any model loads, torch-free); UsageError (exit 2) otherwise."""
    names = ", ".join(BUILTIN_MODELS)
    if spec.startswith("builtin:"):
        if spec.split(":", 1)[1] not in BUILTIN_MODELS:
            raise UsageError(f"unknown builtin model {spec!r}; choose from: {names}")
        return
    if FACTORY_RE.match(spec) or Path(spec).exists():
        return
    refuse_file_path_spec(spec)
    raise UsageError(
        f"{spec!r} is not a model spec or an existing file; use builtin:NAME ({names}),"
        " package.module:factory, or a .pt2/TorchScript/pickled model file"
    )


def call_factory(spec: str):
    """What ``module:attr`` returns when called (not yet checked to be an nn.Module)."""
    factory = import_callable(spec)
    with cwd_on_path():
        try:
            model = factory()
        except Exception as e:  # user code: any failure is an input problem
            raise InputError(f"{spec}: factory raised {type(e).__name__}: {e}") from e
    return model


def import_callable(spec: str):
    """The callable ``module:attr`` names (a model factory, a --finetune-fn), imported as
    ``python -m`` would; InputError when it cannot be imported or is not callable."""
    module_name, attr = spec.split(":", 1)
    with cwd_on_path():
        try:
            obj = importlib.import_module(module_name)
        except ImportError as e:
            refuse_file_path_spec(spec)
            raise InputError(f"{spec}: cannot import module {module_name!r} ({e})") from e
        for part in attr.split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                raise InputError(f"{spec}: module {module_name!r} has no attribute {attr!r}") from None
        if not callable(obj):
            raise InputError(f"{spec}: {attr!r} is not callable")
    return obj


@contextlib.contextmanager
def cwd_on_path():
    """Import user code as ``python -m`` would: with the current directory first on sys.path.

    A console script's sys.path starts at its own bin/ folder, so `secateurs run mymod:f`
    run beside mymod.py could not import it. The directory is on sys.path only while the
    module is imported and its factory runs, so a stray file here never shadows a module
    secateurs imports later.
    """
    cwd = os.getcwd()
    if cwd in sys.path or "" in sys.path:
        yield
        return
    sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if cwd in sys.path:
            sys.path.remove(cwd)


def refuse_file_path_spec(spec: str) -> None:
    """`mymod.py:factory` names a file, not a module: say which spec was meant (exit 2).

    Called only once the spec failed as a module spec (a package ``x`` with a submodule
    ``py`` would be ``x.py:f``)."""
    match = re.fullmatch(r"(?P<file>[^:]+)\.py:(?P<attr>[A-Za-z_][\w.]*)", spec)
    if not match:
        return
    parts = Path(match["file"]).parts
    if Path(match["file"]).is_absolute() or ".." in parts or not all(p.isidentifier() for p in parts):
        hint = (
            f"run from the folder holding {Path(match['file']).name}.py and use {parts[-1]}:{match['attr']}"
        )
    else:
        hint = f"use {'.'.join(parts)}:{match['attr']}"
    raise UsageError(f"{spec}: a model spec names a module, not a file; {hint}")
