"""Where one model's run spends its seconds, next to the floor's: bench_pipeline's section 3.

Takes a summary (pipeline_tables.summarise: medians of the stage times, of each timed
call's self seconds, and of the floor's parts) and splits the run into disjoint items:
each stage's timed calls and the stage's rest. ``beyond_floor`` sets the items doing the
floor's jobs against the floor's parts (PAIRS) and counts the rest whole, so its items add
up to run − floor (up to the medians).
"""

from __future__ import annotations

from benchmarks.timed_run import OUTSIDE

STAGES = ("load", "prune", "export", "validate", "report")
START = "python start, imports, exit"  # the process outside the CLI call (the floor: outside its parts)
CLI_REST = "CLI outside the stages"  # staging, manifest, promotion, the terminal summary
# The floor part doing each stage's job, shown beside the stage.
COUNTERPART = {
    START: (START,),
    "load": ("build",),
    "prune": ("prune",),
    "export": ("export",),
    "validate": ("session", "inference"),
}
# Items of the run set against the floor part(s) doing the same job, matched by stage and
# label prefix. prove_weights_used goes with the exporters: whichever of them runs first
# pays torch's one-time import of torch._dynamo and sympy (about 825 modules), which the
# floor pays inside its torch.onnx.export.
PAIRS = [
    (START, ((START, ""),), (START,)),
    ("load stage (vs floor's build)", (("load", ""),), ("build",)),
    (
        "prune_model + count_params + rest (vs floor's torch prune)",
        (("prune", "prune_model"), ("prune", "count_params"), ("prune", "(rest)")),
        ("prune",),
    ),
    (
        "torch.export + torch.onnx.export + prove_weights_used (vs floor's torch.onnx.export)",
        (("export", "torch.export.export"), ("export", "torch.onnx.export"), ("prune", "prove_weights_used")),
        ("export",),
    ),
    (
        "torch forwards + onnxruntime on model.onnx (vs floor's session + inference)",
        (("validate", "torch forwards"), ("validate", "onnxruntime session + runs: model.onnx")),
        ("session", "inference"),
    ),
    ("gzip -6 (floor only)", (), ("gzip",)),
]


def items(m: dict) -> dict[tuple[str, str], float]:
    """The run's seconds as disjoint items, in run order: each stage's timed calls (self
    seconds, largest first) and then the stage's rest."""
    found = {(START, ""): m["stages"][START]}
    for stage in (*STAGES, CLI_REST):
        key = OUTSIDE if stage == CLI_REST else stage
        calls = {(stage, lb): s for (st, lb), s in m["calls"].items() if st == key}
        found.update(sorted(calls.items(), key=lambda kv: -kv[1]))
        found[(stage, "(rest)")] = m["stages"][stage] - sum(calls.values())
    return found


def beyond_floor(m: dict) -> list[tuple[str, float]]:
    """(item, seconds beyond the floor), largest first: a PAIRS entry counts its items minus
    the floor's parts, every other item of the run counts whole."""
    left = items(m)
    out = {}
    for label, wanted, parts in PAIRS:
        mine = [k for k in left if any(k[0] == st and k[1].startswith(lb) for st, lb in wanted)]
        out[label] = sum(left.pop(k) for k in mine) - sum(m["floor_parts"][p] for p in parts)
    out.update({f"{st}: {lb}": s for (st, lb), s in left.items()})
    return sorted(out.items(), key=lambda kv: -kv[1])


def rows(m: dict) -> list[list[str]]:
    """Markdown rows: each stage in bold beside its floor counterpart, then its items."""
    fp = m["floor_parts"]
    out = []
    for stage in (START, *STAGES, CLI_REST):
        floor = f"{sum(fp[p] for p in COUNTERPART[stage]):.2f}" if stage in COUNTERPART else ""
        out.append([f"**{stage}**", f"**{m['stages'][stage]:.2f}**", floor])
        calls = [(lb, s) for (st, lb), s in items(m).items() if st == stage and lb]
        if len(calls) > 1:  # a stage with no timed call has only its rest
            out += [[f"· {lb}", f"{s:.2f}", ""] for lb, s in calls]
    out.append(["**gzip -6 of model.onnx (floor only)**", "", f"{fp['gzip']:.2f}"])
    out.append(["**total**", f"**{m['run_s']:.2f}**", f"{m['floor_s']:.2f}"])
    return out
