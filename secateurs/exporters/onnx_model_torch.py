"""model.onnx, torch side: export the dense pruned model with a dynamic batch axis.

The default exporter (``auto``) is ``dynamo`` (``torch.export``-based), the path PyTorch
supports going forward; TorchScript archives can only go through the legacy
``torchscript`` exporter, so ``auto`` picks that for them. ``torchscript`` is deprecated
upstream but much faster (0.3 s vs 3.2 s to export the ResNet-50 of `make bench`) and
stays selectable.

Models whose weights exceed what one protobuf holds (2 GB) are written with their
tensors in ``model.onnx.data`` beside the file, at a relative location; the hidden
``--external-data`` switch forces that layout for any model.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import warnings
from pathlib import Path

import onnx
import torch

from secateurs.errors import ExportError, UsageError
from secateurs.exporters.common.onnx_graph import name_dynamic_dims, save_model
from secateurs.exporters.common.opsets import DEFAULT_OPSET, check_opset

OPSET = DEFAULT_OPSET
PROTOBUF_LIMIT = 2 * 1024**3 - 64 * 1024**2  # leave headroom for the graph itself


def export_model(ctx, path: Path) -> None:
    """Export ``ctx.model`` to ``path``, with external data when it must or was asked."""
    cfg = ctx.config
    exporter = resolve_exporter(cfg.exporter, ctx.info.source)
    check_opset(cfg.opset, exporter)  # auto may have become torchscript, whose range is lower
    ctx.info.exporter = exporter
    export_onnx(ctx.model, ctx.info, path, exporter, cfg.dynamic_hw, cfg.opset)
    if cfg.external_data or weight_bytes(ctx.model) > PROTOBUF_LIMIT or _has_sidecars(path):
        move_to_external_data(path)


def resolve_exporter(requested: str, source: str) -> str:
    if source == "torchscript":
        if requested == "dynamo":
            raise UsageError("a TorchScript model can only be exported with --exporter torchscript")
        return "torchscript"
    if source == "exported-program" and requested == "torchscript":
        raise UsageError("a torch.export .pt2 program can only be exported with --exporter dynamo")
    return "dynamo" if requested == "auto" else requested


def weight_bytes(model) -> int:
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def dynamic_axes(info, dynamic_hw: bool) -> dict[str, dict[int, str]]:
    """Batch (unless a .pt2 program fixes it); height and width of the input (and of 4-D
    outputs) with --dynamic-hw."""
    spatial = {2: "height", 3: "width"} if dynamic_hw and len(info.input_shape) == 4 else {}
    batch = {} if info.fixed_batch else {0: "batch"}
    axes = {n: {**batch, **spatial} for n in info.input_names}
    for name, shape in zip(info.output_names, info.output_shapes):
        out_spatial = {2: "out_height", 3: "out_width"} if spatial and len(shape) == 4 else {}
        axes[name] = {**batch, **out_spatial}
    return {n: a for n, a in axes.items() if a}


def export_onnx(model, info, path: Path, exporter: str, dynamic_hw: bool = False, opset: int = OPSET) -> None:
    """Export with stable names (input, output[_i]), dynamic axes named as ``dynamic_axes``
    says (batch, height, width), and exactly the ai.onnx ``opset`` asked for."""
    if dynamic_hw:
        check_spatial_freedom(model, info)
    example = torch.zeros(*info.input_shape)
    if exporter == "dynamo" and example.shape[0] == 1 and not info.fixed_batch:
        # torch.export specialises size-1 dims; trace at batch 2 so batch stays symbolic.
        example = torch.zeros(2, *info.input_shape[1:])
    axes = dynamic_axes(info, dynamic_hw)
    common = {"opset_version": opset, "input_names": info.input_names, "output_names": info.output_names}
    try:
        with quiet_exporters(), torchlib_registry_reused():
            if exporter == "dynamo":
                dims = {} if info.fixed_batch else {0: torch.export.Dim("batch", min=1)}
                if dynamic_hw and example.dim() == 4:
                    dims.update({2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC})
                # Capture first, so a model that cannot honour the dynamic axes fails here
                # instead of torch.onnx falling back to a looser capture strategy.
                program = torch.export.export(
                    model, (example,), dynamic_shapes=(dims,) if dims else None, strict=False
                )
                torch.onnx.export(
                    program, (example,), str(path), dynamo=True, external_data=False, optimize=True,
                    verbose=False, **common,
                )  # fmt: skip
            else:
                torch.onnx.export(
                    model, (example,), str(path), dynamo=False, dynamic_axes=axes, do_constant_folding=True,
                    **common,
                )  # fmt: skip
    except Exception as e:  # the exporters raise many unrelated types for unsupported models
        _reraise_os_error(e)
        msg = str(e).strip().splitlines()
        hint = " (the model may not allow dynamic height/width)" if dynamic_hw else ""
        if exporter == "dynamo" and not dynamic_hw and _captures_with_static_batch(model, example):
            hint = (
                " (the model fixes its batch size, e.g. view(1, -1); secateurs exports a dynamic batch axis)"
            )
        if info.source == "exported-program":
            hint = " (a .pt2 program keeps the shapes it was exported with: export it with dynamic_shapes for a dynamic batch)"
        raise ExportError(
            f"{exporter} exporter failed on {info.spec}{hint}: {type(e).__name__}: {' '.join(line.strip() for line in msg)[:400]}"
        ) from e
    if not path.is_file():
        raise ExportError(f"{exporter} exporter wrote no file at {path}")
    _finish_graph(path, exporter, opset, info, axes)


def _finish_graph(path: Path, exporter: str, opset: int, info, axes: dict[str, dict[int, str]]) -> None:
    """Refuse an opset other than the one asked for (torch's dynamo exporter quietly writes 18
    for some), and give dynamo's symbolic dims (``s77``) the names torchscript writes."""
    model = onnx.load(str(path), load_external_data=False)
    written = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if written != opset:
        raise ExportError(f"{exporter} exporter wrote ai.onnx opset {written} when asked for {opset}")
    if exporter == "dynamo" and name_dynamic_dims(model, axes, info.input_names[0]):
        onnx.save_model(model, str(path))  # the tensors stay where the exporter put them


@contextlib.contextmanager
def torchlib_registry_reused():
    """Build the dynamo exporter's ATen-to-ONNX registry once per process, not per export.

    ``torch.onnx.export(dynamo=True)`` rebuilds that registry from onnxscript's torchlib on
    every call by parsing the source of ~500 functions: 1.1-1.4 s per export here,
    whatever the model's size, which sweeps and split stages pay again and again. The
    registry depends only on the opset and is only read during an export (torch's own
    ``_compat.export_compat`` mutates it only for a ``custom_translation_table``, which
    secateurs never passes), so one instance per opset is shared. The hook is the private
    ``ONNXRegistry.from_torchlib``; where a torch release lacks it, exports run uncached
    (tests/test_formats.py checks that the pinned torch has it).
    """
    registration = _registration_module()
    if registration is None:
        yield
        return
    original = registration.ONNXRegistry.__dict__["from_torchlib"]
    registration.ONNXRegistry.from_torchlib = classmethod(_cached_registry(original.__func__))
    try:
        yield
    finally:
        registration.ONNXRegistry.from_torchlib = original


def _registration_module():
    try:  # a private torch module, probed here: a release without it only loses the cache
        from torch.onnx._internal.exporter import _registration
    except ImportError:
        return None
    has_hook = isinstance(getattr(_registration, "ONNXRegistry", None), type) and isinstance(
        _registration.ONNXRegistry.__dict__.get("from_torchlib"), classmethod
    )
    return _registration if has_hook else None


_REGISTRIES: dict = {}


def _cached_registry(build):
    @functools.wraps(build)
    def from_torchlib(cls, *args, **kwargs):
        key = (cls, args, tuple(sorted(kwargs.items())))
        if key not in _REGISTRIES:
            _REGISTRIES[key] = build(cls, *args, **kwargs)
        return _REGISTRIES[key]

    return from_torchlib


def _captures_with_static_batch(model, example) -> bool:
    try:
        with quiet_exporters():
            torch.export.export(model, (example[:1],), strict=False)
    except Exception:  # any capture failure: the batch axis is not the (only) problem
        return False
    return True


def check_spatial_freedom(model, info) -> None:
    """--dynamic-hw promises other sizes work: prove it in PyTorch before exporting."""
    if len(info.input_shape) != 4:
        raise UsageError(f"--dynamic-hw needs a 4-D N,C,H,W input, got {list(info.input_shape)}")
    n, c, h, w = info.input_shape
    try:
        with torch.no_grad():
            model(torch.zeros(n, c, 2 * h, 2 * w))
    except Exception as e:  # user model code
        raise ExportError(
            f"{info.spec}: the model does not allow dynamic height/width: a forward pass at"
            f" {n}x{c}x{2 * h}x{2 * w} fails ({type(e).__name__}: {str(e).splitlines()[0][:200]})"
        ) from e


def _reraise_os_error(e: BaseException) -> None:
    """A full disk or a permission problem is an output error, not an export failure."""
    seen = e
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno is not None:
            raise seen
        seen = seen.__cause__ or seen.__context__


def _has_sidecars(path: Path) -> bool:
    return any(p != path for p in path.parent.iterdir())


def move_to_external_data(path: Path) -> None:
    """Rewrite ``path`` with its tensors in ``<name>.data`` beside it (relative location)."""
    model = onnx.load(str(path))  # pulls in any external files the exporter wrote
    for p in path.parent.iterdir():
        p.unlink()
    save_model(model, path, external=True)


QUIET_LOGGERS = ("torch", "onnxscript", "onnx_ir")


@contextlib.contextmanager
def quiet_exporters():
    """The exporters print progress, deprecation chatter and tracebacks of failed captures;
    keep stdout for our report and report one line. Only the exporters' own loggers (and
    their children) are raised to above CRITICAL, and restored after: the process's other
    logging is left alone."""
    manager = logging.Logger.manager
    names = [n for n in manager.loggerDict if n.split(".")[0] in QUIET_LOGGERS] + list(QUIET_LOGGERS)
    loggers = {n: logging.getLogger(n) for n in dict.fromkeys(names)}
    saved = {n: lg.level for n, lg in loggers.items()}
    for lg in loggers.values():
        lg.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for n, lg in loggers.items():
            lg.setLevel(saved[n])
