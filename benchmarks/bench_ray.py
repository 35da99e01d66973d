"""--executor ray against local: `sensitivity` on builtin:resnet and a batch of 4 builtin jobs.

    python benchmarks/bench_ray.py [--repeat N]     (make bench-ray)

Every figure is the wall time of a whole `secateurs` process. The Ray clusters are started
first with `ray start --block` (a head alone with 1 or 2 CPUs; a head and a second node of 1
CPU each on loopback, the simulated 2-node cluster) and stopped by ending exactly those
`ray start` processes, which stop what they started; the commands connect with
--ray-address, so the figures leave out the cluster's start (timed separately: the
`--executor ray` of a command without an address starts a local instance itself).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out" / "ray"
RAY = str(Path(sys.executable).with_name("ray"))
SENSITIVITY = ["sensitivity", "builtin:resnet", "--eval", "builtin:digits", "--quiet"]
JOBS = REPO / "examples" / "batch" / "jobs.toml"
PORT = 6391


def secateurs(*args: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "secateurs", "--no-config", *args], cwd=REPO, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"secateurs {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0


class Cluster:
    """`ray start --head --block` (+ `ray start --address --block` per extra node) on loopback."""

    def __init__(self, cpus_per_node: list[int]) -> None:
        self.temp = tempfile.mkdtemp(prefix="ray-bench-")
        self.procs = []
        head = [RAY, "start", "--head", "--block", f"--port={PORT}", "--node-ip-address=127.0.0.1"]
        self._start(
            head + [f"--num-cpus={cpus_per_node[0]}", "--include-dashboard=false", f"--temp-dir={self.temp}"]
        )
        for cpus in cpus_per_node[1:]:
            self._start(
                [
                    RAY,
                    "start",
                    "--block",
                    f"--address=127.0.0.1:{PORT}",
                    "--node-ip-address=127.0.0.1",
                    f"--num-cpus={cpus}",
                ]
            )
        self._wait(len(cpus_per_node))

    def _start(self, argv: list[str]) -> None:
        log = open(Path(self.temp) / f"start-{len(self.procs)}.log", "w")
        self.procs.append(
            subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        )
        time.sleep(8 if not self.procs[1:] else 4)

    def _wait(self, nodes: int) -> None:
        script = (
            f"import ray, time\nray.init(address='127.0.0.1:{PORT}')\n"
            "for _ in range(120):\n"
            f"    if len([n for n in ray.nodes() if n['Alive']]) >= {nodes}: break\n    time.sleep(1)\n"
            "print(ray.cluster_resources())\n"
        )
        print(
            subprocess.run(
                [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
            ).stdout.strip()
        )

    def stop(self) -> None:
        for proc in reversed(self.procs):  # only the `ray start` processes this started
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        time.sleep(3)


def timed(label: str, argv: list[str], repeat: int) -> float:
    times = [secateurs(*argv) for _ in range(repeat)]
    median = statistics.median(times)
    print(f"{label:60s} {median:7.1f} s  ({', '.join(f'{t:.1f}' for t in times)})", flush=True)
    return median


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--clusters-only", action="store_true", help="skip the runs without a cluster")
    args = parser.parse_args()
    repeat = args.repeat
    # The loopback clusters are this benchmark's own: no token (Ray >= 2.5x asks for one by default).
    os.environ["RAY_AUTH_MODE"] = "disabled"
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {os.getloadavg()}")
    sens = lambda out: [*SENSITIVITY, "--out", str(OUT / out)]  # noqa: E731
    if not args.clusters_only:
        timed("sensitivity local --threads 1", sens("s-local1") + ["--threads", "1"], repeat)
        timed("sensitivity local (threads = usable CPUs)", sens("s-local"), repeat)
        timed(
            "sensitivity --executor ray, local instance started by the command",
            sens("s-ray-own") + ["--executor", "ray"],
            repeat,
        )
    for cpus in (1, 2):
        table = subprocess.run(
            [sys.executable, str(REPO / "benchmarks" / "bench_ray_table.py"), str(cpus)],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        print((table.stdout or table.stderr[-2000:]).strip(), flush=True)
    for cpus in (1, 2):
        cluster = Cluster([cpus])
        try:
            address = ["--executor", "ray", "--ray-address", f"127.0.0.1:{PORT}", "--threads", "1"]
            timed(
                f"sensitivity --executor ray, {cpus} worker CPU(s), --threads 1",
                sens(f"s-ray{cpus}") + address,
                repeat,
            )
        finally:
            cluster.stop()
    batch = ["batch", str(JOBS), "--no-resume", "--quiet", "--summary", str(OUT / "batch.json")]
    timed("batch of 4 jobs, local (one after another), --threads 1", batch + ["--threads", "1"], repeat)
    if not args.clusters_only:
        timed("batch of 4 jobs, local (one after another), threads = usable CPUs", batch, repeat)
    cluster = Cluster([1, 1])
    try:
        address = ["--executor", "ray", "--ray-address", f"127.0.0.1:{PORT}", "--threads", "1"]
        timed("batch of 4 jobs, ray: 2 nodes x 1 CPU on loopback, --threads 1", batch + address, repeat)
    finally:
        cluster.stop()
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
