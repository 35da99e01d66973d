"""The prune stage's function against torch.nn.utils.prune: bench_pipeline's section 4.

``measure`` runs, in this process, ``secateurs.model.prune.prune_model(model, amount,
'layer')`` and ``prune.l1_unstructured`` + ``prune.remove`` on every Conv2d, each on a
freshly built identical ResNet-50: one untimed warm-up each, then ``reps``. The per-layer
zero counts must be equal (SystemExit otherwise). ``table`` renders the result.
"""

from __future__ import annotations

import gc
import statistics
import time


def measure(reps: int, amount: float) -> dict:
    import torch
    from torch.nn.utils import prune as tprune

    from benchmarks.resnet import resnet50
    from secateurs.model.prune import prune_model

    ours, theirs = [], []
    for _ in range(reps + 1):
        model = resnet50()
        gc.collect()
        t0 = time.perf_counter()
        records, _ = prune_model(model, amount, "layer")
        ours.append(time.perf_counter() - t0)
        reference = resnet50()
        gc.collect()
        t0 = time.perf_counter()
        convs = [(n, m) for n, m in reference.named_modules() if isinstance(m, torch.nn.Conv2d)]
        for _, m in convs:
            tprune.l1_unstructured(m, "weight", amount=amount)
            tprune.remove(m, "weight")
        theirs.append(time.perf_counter() - t0)
        got = {r.name: r.zeros_after for r in records}
        want = {n: int((m.weight == 0).sum()) for n, m in convs}
        if got != want:
            bad = [n for n in want if got.get(n) != want[n]]
            raise SystemExit(f"per-layer zero counts differ from torch.nn.utils.prune on: {bad[:5]}")
        mods = dict(model.named_modules())
        same_mask = sum(torch.equal(mods[n].weight == 0, m.weight == 0) for n, m in convs)
    return {
        "ours": ours[1:],
        "torch": theirs[1:],
        "layers": len(records),
        "weights": sum(r.numel for r in records),
        "zeros": sum(r.zeros_after for r in records),
        "same_mask_layers": int(same_mask),
    }


def table(p: dict) -> tuple[list[str], list[list[str]]]:
    theirs, ours = min(p["torch"]), min(p["ours"])
    med = statistics.median
    headers = ["pruner (ResNet-50, in one process)", "best s", "median s", "speed-up best/best"]
    rows = [
        ["torch.nn.utils.prune l1_unstructured + remove", f"{theirs:.3f}", f"{med(p['torch']):.3f}", "1.0×"],
        [
            "secateurs prune_model (layer scope)",
            f"{ours:.3f}",
            f"{med(p['ours']):.3f}",
            f"{theirs / ours:.1f}×",
        ],
    ]
    return headers, rows
