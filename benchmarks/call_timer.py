"""Where a run's time goes, per stage and per package call, without editing the package.

``timed_calls(formats)`` swaps selected functions (module attributes, methods, and the
runner's stage table) for timing wrappers and puts the originals back on exit. This works
because the pipeline looks them up at call time. Every call is charged to the stage that
was running and records two times:
  incl - wall time inside the call;
  self - incl minus the time spent in other probed calls inside it, so the self times
         of one stage add up to at most the stage total (the rest is untimed code).
Each wrapper costs a few ``perf_counter`` calls, negligible against calls that take
milliseconds. A probe whose target the package no longer has is skipped (the package
changes under the benchmark; the tables then omit the row instead of crashing).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import time

OUTSIDE = "outside stages"

# (label, owner, attribute); owner is "module" or "module:Class". The onnx exporters
# are added per selected format by ``probes``.
PROBES: list[tuple[str, str, str]] = [
    ("build model (factory call)", "secateurs.model.load", "build"),
    ("probe (one torch forward)", "secateurs.model.load", "probe"),
    ("prune_model", "secateurs.model.prune", "prune_model"),
    ("count_params", "secateurs.model.prune", "count_params"),
    ("torch.onnx.export (export_onnx)", "secateurs.exporters.onnx_model_torch", "export_onnx"),
    ("save_state_dict", "secateurs.exporters.safetensors_weights_torch", "save_state_dict"),
    ("onnx_derived.pruned_initializers", "secateurs.exporters.common.onnx_derived", "pruned_initializers"),
    ("onnx_derived.save_onnx", "secateurs.exporters.common.onnx_derived", "save_onnx"),
    ("csr_npz._csr_arrays (to CSR)", "secateurs.exporters.csr_npz_codec", "_csr_arrays"),
    ("np.savez_compressed (zlib deflate)", "numpy", "savez_compressed"),
    ("onnx.load", "onnx", "load"),
    ("onnx.checker.check_model", "onnx.checker", "check_model"),
    ("make_inputs", "secateurs.pipeline.validate", "make_inputs"),
    ("torch_outputs (torch forwards)", "secateurs.pipeline.validate", "torch_outputs"),
    ("ctx.pruned_weights", "secateurs.pipeline.context:RunContext", "pruned_weights"),
    ("onnx_structure.checker", "secateurs.validators.onnx_structure", "checker"),
    ("onnx_structure.leaks", "secateurs.validators.onnx_structure", "leaks"),
    ("onnx_structure.sparsity_survives", "secateurs.validators.onnx_structure", "sparsity_survives"),
    ("match_pruned", "secateurs.exporters.common.onnx_derived", "match_pruned"),
    ("match_pruned", "secateurs.validators.pruned_map", "match_pruned"),
    ("sparse_onnx.round_trip", "secateurs.exporters.sparse_onnx", "round_trip"),
    ("bitmask_onnx.round_trip", "secateurs.exporters.bitmask_onnx", "round_trip"),
    ("spz_container.round_trip", "secateurs.exporters.spz_container", "round_trip"),
    ("csr_npz.round_trip", "secateurs.exporters.csr_npz", "round_trip"),
    ("compare_with_reference", "secateurs.pipeline.validate", "compare_with_reference"),
    ("identical_to_dense", "secateurs.pipeline.validate", "identical_to_dense"),
    ("ORT run_all (inference on 4 inputs)", "secateurs.pipeline.validate", "run_all"),
    ("ORT run_all (inference on 4 inputs)", "secateurs.validators.onnxruntime_run", "run_all"),
    ("ORT session creation", "secateurs.validators.onnxruntime_run", "session"),
    ("compare_outputs", "secateurs.validators.onnxruntime_run", "compare_outputs"),
    ("state_dict_round_trip", "secateurs.exporters.safetensors_weights_torch", "state_dict_round_trip"),
    ("report.build", "secateurs.report.data", "build"),
    ("ledger.build (size ledger)", "secateurs.report.ledger", "build"),
    ("ledger.baselines (gzip/zstd of model.onnx)", "secateurs.report.ledger", "baselines"),
    ("ledger.encoded_weights", "secateurs.report.ledger", "encoded_weights"),
    ("ledger.bound_bytes (entropy bound per tensor)", "secateurs.report.ledger", "bound_bytes"),
    ("files.make_staging", "secateurs.files", "make_staging"),
    ("files.write_bytes (atomic write + fsync)", "secateurs.files", "write_bytes"),
    ("files.write_manifest (sha256 of every file)", "secateurs.files", "write_manifest"),
    ("files.promote", "secateurs.files", "promote"),
]


def _owner(spec):
    if not isinstance(spec, str):
        return spec
    module_name, _, cls = spec.partition(":")
    module = importlib.import_module(module_name)  # a moved module fails the benchmark, loudly
    return getattr(module, cls, None) if cls else module


def probes(formats) -> list[tuple[str, object, str]]:
    """PROBES plus the ``export`` method of each selected exporter, in run order."""
    from secateurs import exporters

    found = []
    for name in formats:
        with contextlib.suppress(Exception):  # an unknown format: the run itself reports it
            found.append((f"{name} exporter", type(exporters.get(name)), "export"))
    return [*found, *PROBES]


@contextlib.contextmanager
def timed_calls(formats):
    """Yield {"stages": {stage: s}, "calls": {(stage, label): {incl, self, calls}}}, filled live."""
    from secateurs.pipeline import runner

    acc: dict = {"stages": {}, "calls": {}}
    stack: list[list[float]] = []  # per open probed call: [time in probed callees]
    current = [OUTSIDE]
    saved = []

    def wrap(fn, label):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            stack.append([0.0])
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                incl = time.perf_counter() - t0
                inner = stack.pop()[0]
                if stack:
                    stack[-1][0] += incl
                entry = acc["calls"].setdefault((current[0], label), {"incl": 0.0, "self": 0.0, "calls": 0})
                entry["incl"] += incl
                entry["self"] += incl - inner
                entry["calls"] += 1

        return timed

    def stage(fn, name):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            current[0] = name
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                acc["stages"][name] = acc["stages"].get(name, 0.0) + time.perf_counter() - t0
                current[0] = OUTSIDE

        return timed

    stage_table = dict(runner.STAGES)
    try:
        for name, st in stage_table.items():
            runner.STAGES[name] = dataclasses.replace(st, run=stage(st.run, name))
        saved.append((runner, "write_reports", vars(runner)["write_reports"]))
        runner.write_reports = stage(runner.write_reports, "report")
        for label, spec, attr in probes(formats):
            owner = _owner(spec)
            original = getattr(owner, attr, None) if owner is not None else None
            if not callable(original):  # a renamed or moved function must fail loudly, not drop its row
                raise LookupError(f"call_timer probe {label!r}: {spec}.{attr} is not a callable any more")
            saved.append((owner, attr, vars(owner).get(attr)))
            setattr(owner, attr, wrap(original, label))
        yield acc
    finally:
        runner.STAGES.update(stage_table)
        for owner, attr, own in reversed(saved):
            if own is None:  # it was inherited: drop the wrapper to uncover it again
                delattr(owner, attr)
            else:
                setattr(owner, attr, own)
