"""One ``secateurs run`` in this process, with where its time goes recorded beside it.

    python -m benchmarks.timed_run TIMES.json run MODEL [options...]

Calls secateurs' own command line (``secateurs.cli.main``) with the arguments after
TIMES.json, so the run is the user's, and meanwhile times named calls by swapping them
for wrappers (no package edits): each format's ``export`` and ``checks``, onnxruntime's
session + runs per file, the torch forwards, the torch exporters, the size ledger and
the manifest. Each call is charged to the stage running it (the runner's stage table is
wrapped too) with its *self* time: its wall time minus that of probed calls inside it.
A wrapper costs a few ``perf_counter`` calls, nothing against calls of milliseconds.
TIMES.json gets ``{"in_cli": s, "exit": code, "calls": [{stage, label, self, n}],
"peak_kib_after": {stage: KiB}}`` (the process's peak RSS by the end of each stage);
the stage totals themselves are manifest.json's ``run.timings_s``, as the user sees them.
A probed name the package no longer has fails here (tests/test_benchmark_probes.py).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import resource
import sys
import time
from pathlib import Path

OUTSIDE = "outside stages"

# (label, owner, attribute): the owner is "module" or "module:Class"; "{file}" in a label
# is the name of the call's first argument. Patched where the caller looks the name up.
PROBES: list[tuple[str, str, str]] = [
    ("build (the factory call)", "secateurs.model.load", "build"),
    ("probe (one torch forward)", "secateurs.model.load", "probe"),
    ("prune_model", "secateurs.pipeline.prune", "prune_model"),
    (
        "prove_weights_used (one forward under a TorchDispatchMode)",
        "secateurs.pipeline.prune",
        "prove_weights_used",
    ),
    ("count_params", "secateurs.pipeline.prune", "count_params"),
    ("torch.export.export", "torch.export", "export"),
    ("torch.onnx.export", "torch.onnx", "export"),
    ("torch forwards", "secateurs.pipeline.validate", "torch_outputs"),
    ("reference.npz write (streamed, atomic, fsync)", "secateurs.pipeline.validate", "write_with"),
    ("pruned weights to numpy", "secateurs.pipeline.context:RunContext", "pruned_weights"),
    ("model.onnx parsed", "secateurs.pipeline.context:RunContext", "dense_onnx"),
    ("onnxruntime session + runs: {file}", "secateurs.pipeline.validate", "run_compared"),
    ("compare with torch (every file)", "secateurs.validators.onnxruntime_run", "compare_outputs"),
    ("size ledger", "secateurs.report.ledger", "build"),
    ("manifest (sha256 of every file)", "secateurs.files", "write_manifest"),
]
FORMAT_METHODS = ("export", "checks")  # timed on every registered format


def targets() -> list[tuple[str, object, str]]:
    """(label, owner object, attribute) for PROBES and each format's FORMAT_METHODS."""
    from secateurs import exporters

    found = [(label, owner_of(spec), attr) for label, spec, attr in PROBES]
    for name in exporters.names():
        cls = type(exporters.get(name))
        found += [(f"{name} {method}", cls, method) for method in FORMAT_METHODS]
    for label, owner, attr in found:
        if not callable(getattr(owner, attr, None)):
            raise LookupError(f"timed_run probe {label!r}: {owner!r}.{attr} is not a callable any more")
    return found


def owner_of(spec: str):
    module, _, cls = spec.partition(":")
    found = importlib.import_module(module)
    return getattr(found, cls) if cls else found


def install(calls: dict, peaks: dict) -> None:
    """Wrap every target and the runner's stages; ``calls[(stage, label)]`` fills as the run
    goes, and ``peaks[stage]`` gets the process's peak RSS (KiB) by the end of each stage."""
    from secateurs.pipeline import runner

    stack: list[float] = []  # per open probed call: seconds spent in probed calls inside it
    current = [OUTSIDE]

    def probe(fn, label):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            stack.append(0.0)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                incl = time.perf_counter() - t0
                inner = stack.pop()
                if stack:
                    stack[-1] += incl
                name = label.format(file=Path(str(args[0])).name) if "{file}" in label else label
                entry = calls.setdefault((current[0], name), {"self": 0.0, "n": 0})
                entry["self"] += incl - inner
                entry["n"] += 1

        return timed

    def stage(fn, name):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            current[0] = name
            try:
                return fn(*args, **kwargs)
            finally:
                current[0] = OUTSIDE
                peaks[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        return timed

    for name, st in list(runner.STAGES.items()):
        runner.STAGES[name] = dataclasses.replace(st, run=stage(st.run, name))
    runner.write_reports = stage(runner.write_reports, "report")
    for label, owner, attr in targets():
        setattr(owner, attr, probe(getattr(owner, attr), label))


def main(times: Path, argv: list[str]) -> int:
    from secateurs.cli import main as cli

    calls: dict = {}
    peaks: dict = {}
    install(calls, peaks)
    t0 = time.perf_counter()
    try:
        cli.main(args=argv, prog_name="secateurs")
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    in_cli = time.perf_counter() - t0
    rows = [{"stage": s, "label": label, **v} for (s, label), v in calls.items()]
    times.write_text(json.dumps({"in_cli": in_cli, "exit": code, "calls": rows, "peak_kib_after": peaks}))
    return code


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2:]))
