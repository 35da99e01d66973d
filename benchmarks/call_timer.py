"""Wall time of named package calls during a run, without editing the package.

``timed_calls(formats)`` swaps selected functions (module attributes, and the
``export`` method of each selected exporter class) for timing wrappers and puts the
originals back on exit. It works because the pipeline looks these up at call time.
The wrapper costs one ``perf_counter`` pair per call, negligible against calls that
take milliseconds or more. A probe whose target the package no longer has is skipped:
other people edit the package, and the tables then omit that row rather than crash.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import time

# (stage, label, owner module, attribute). Labels indented by two spaces per level are
# inside the call above them and are not added again to the stage total.
BEFORE_EXPORT = [
    ("load", "build (factory call)", "secateurs.pipeline.load", "build"),
    ("load", "probe (one torch forward)", "secateurs.pipeline.load", "probe"),
    ("prune", "prune_model", "secateurs.pipeline.prune", "prune_model"),
    ("prune", "count_params", "secateurs.pipeline.prune", "count_params"),
]
INSIDE_EXPORTER = {
    "onnx": ("export", "  export_onnx (torch.onnx.export)", "secateurs.exporters.onnx_model", "export_onnx"),
}
AFTER_EXPORT = [
    ("validate", "make_inputs", "secateurs.pipeline.validate", "make_inputs"),
    ("validate", "torch_outputs (torch forwards)", "secateurs.pipeline.validate", "torch_outputs"),
    ("validate", "pruned_weights", "secateurs.pipeline.validate", "pruned_weights"),
    ("validate", "onnx_structure.checker (full_check)", "secateurs.validators.onnx_structure", "checker"),
    ("validate", "onnx.load", "onnx", "load"),
    ("validate", "onnx_structure.leaks", "secateurs.validators.onnx_structure", "leaks"),
    ("validate", "onnx_structure.sparsity_survives", "secateurs.validators.onnx_structure", "sparsity_survives"),
    ("validate", "  match_pruned", "secateurs.validators.onnx_structure", "match_pruned"),
    ("validate", "compare_with_reference", "secateurs.pipeline.validate", "compare_with_reference"),
    ("validate", "  run_all (session + ORT runs)", "secateurs.validators.onnxruntime_run", "run_all"),
    ("validate", "    session (ORT session creation)", "secateurs.validators.onnxruntime_run", "session"),
    ("validate", "  compare_outputs", "secateurs.validators.onnxruntime_run", "compare_outputs"),
    ("validate", "state_dict_round_trip", "secateurs.pipeline.validate", "state_dict_round_trip"),
    ("report", "write_reports", "secateurs.pipeline.runner", "write_reports"),
    ("outside stages", "files.make_staging", "secateurs.pipeline.files", "make_staging"),
    ("outside stages", "files.finalize_modes", "secateurs.pipeline.files", "finalize_modes"),
    ("outside stages", "files.write_manifest (sha256 of every file)", "secateurs.pipeline.files", "write_manifest"),
    ("outside stages", "files.promote", "secateurs.pipeline.files", "promote"),
]


def probes(formats) -> list[tuple[str, str, object, str]]:
    """The probe list for a run writing ``formats``: one row per exporter, in run order."""
    from secateurs import exporters

    middle = []
    for name in formats:
        try:
            cls = type(exporters.get(name))
        except Exception:  # an unknown format: the run itself will report it
            continue
        middle.append(("export", f"{name} exporter", cls, "export"))
        if name in INSIDE_EXPORTER:
            middle.append(INSIDE_EXPORTER[name])
    return [*BEFORE_EXPORT, *middle, *AFTER_EXPORT]


@contextlib.contextmanager
def timed_calls(formats):
    """Yield {label: {"stage", "secs", "calls"}} in display order, filled while the block runs."""
    acc: dict[str, dict] = {}
    saved = []

    def wrap(fn, label):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                acc[label]["secs"] += time.perf_counter() - t0
                acc[label]["calls"] += 1

        return timed

    try:
        for stage, label, owner, attr in probes(formats):
            if isinstance(owner, str):
                try:
                    owner = importlib.import_module(owner)
                except ImportError:
                    continue
            original = getattr(owner, attr, None)
            if not callable(original):
                continue
            acc[label] = {"stage": stage, "secs": 0.0, "calls": 0}
            saved.append((owner, attr, vars(owner).get(attr)))
            setattr(owner, attr, wrap(original, label))
        yield acc
    finally:
        for owner, attr, own in reversed(saved):
            if own is None:  # it was inherited: drop the wrapper to uncover it again
                delattr(owner, attr)
            else:
                setattr(owner, attr, own)
