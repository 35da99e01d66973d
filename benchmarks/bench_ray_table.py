"""sensitivity's layer x amount table alone (builtin:resnet on builtin:digits, 12 layers x 4
amounts = 48 probes): the local loop on 1 thread, then on a local Ray instance of N CPUs
(tasks of 1 thread) twice, cold (its workers start and import torch) and warm. The model and
data are loaded once, before the clock starts; the three tables are asserted identical.

    python benchmarks/bench_ray_table.py N      (bench_ray.py runs it for N = 1 and 2)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import ray

from secateurs import executors, threads
from secateurs.tuning.config import SensitivityConfig
from secateurs.tuning.sensitivity import Probe, sensitivity
from secateurs.tuning.tuner import Tuner


def main(cpus: int) -> None:
    threads.apply(1)
    cfg = SensitivityConfig(model="builtin:resnet", out=Path("unused"), eval="builtin:digits", threads=1)
    probe = Probe(Tuner.from_config(cfg))
    t0 = time.perf_counter()
    local = sensitivity(probe, cfg.amounts)
    t_local = time.perf_counter() - t0
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    pool = executors.make("ray")
    runs = []
    for _ in range(2):
        t0 = time.perf_counter()
        drops = sensitivity(probe, cfg.amounts, executor=pool, task_threads=1)
        runs.append(time.perf_counter() - t0)
        assert drops == local, "Ray's table differs from the local one"
    ray.shutdown()
    print(
        f"table, {len(probe.layers) * len(cfg.amounts)} probes: local 1 thread {t_local:.1f} s | ray {cpus} CPU(s)"
        f" cold {runs[0]:.1f} s, warm {runs[1]:.1f} s | load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
