"""Fan-out on Ray: 200 independent nodes that each sleep 50 ms, on the local backend (threads), on
our Ray backend (``Runtime.remote = RayBackend``: each node a Ray task, the driver scheduling and
logging), and as raw Ray tasks (``[nap.remote() for ...]``, ``ray.get``), in one run on one local Ray.

``ray_vs_raw_ray`` (bar <= 1.3) is our Ray backend's wall time over raw Ray's (medians of
alternating rounds, after a warm-up of each). Our runs use the in-memory event log, so what is
timed is the engine and the Ray round trips, not DuckDB.

Usage: .venv/bin/python bench/ray_fanout.py [--quick]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

NODES = 200
NAP = 0.05
BAR = 1.3


def nap() -> float:
    time.sleep(NAP)
    return NAP


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds")
    ap.add_argument("--num-cpus", type=int, default=4, help="Ray's logical CPUs (concurrent tasks)")
    args = ap.parse_args()
    rounds = 3 if args.quick else 7

    import ray

    from agentcore_nb.graph.spec import Graph
    from agentcore_nb.runtime.ray_backend import RayBackend
    from agentcore_nb.runtime.runtime import Runtime

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    graph = Graph("fanout")
    for i in range(NODES):
        graph.node(f"n{i:03d}", nap)
    raw_nap = ray.remote(nap)
    times: dict[str, list[float]] = {"local": [], "ours_ray": [], "raw_ray": []}
    try:
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, _temp_dir=tmp, log_to_driver=False)
        local_rt = Runtime(max_workers=256)
        ray_rt = Runtime(max_workers=256)
        ray_rt.remote = RayBackend(init=False)

        def run_local() -> None:
            assert local_rt.run(graph).ok

        def run_ours() -> None:
            assert ray_rt.run(graph).ok

        def run_raw() -> None:
            assert sum(ray.get([raw_nap.remote() for _ in range(NODES)])) > 0

        modes = {"local": run_local, "ours_ray": run_ours, "raw_ray": run_raw}
        for fn in modes.values():  # warm-up: workers started, functions exported
            fn()
        for r in range(rounds):
            order = ["ours_ray", "raw_ray"] if r % 2 == 0 else ["raw_ray", "ours_ray"]
            for name in ["local", *order]:
                t0 = time.perf_counter()
                modes[name]()
                times[name].append(time.perf_counter() - t0)
        local_rt.close()
        ray_rt.close()
    finally:
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    ideal = NODES * NAP / args.num_cpus
    for k, v in med.items():
        print(f"{k:9s} {v:7.3f} s  (rounds: {', '.join(f'{x:.3f}' for x in times[k])})")
    out = {
        "bench": "ray_fanout",
        "quick": args.quick,
        "nodes": NODES,
        "nap_s": NAP,
        "ray_num_cpus": args.num_cpus,
        "ideal_ray_s": round(ideal, 3),
        "local_s": round(med["local"], 3),
        "ours_ray_s": round(med["ours_ray"], 3),
        "raw_ray_s": round(med["raw_ray"], 3),
        "ray_vs_raw_ray": round(med["ours_ray"] / med["raw_ray"], 3),
        "meets_bar": med["ours_ray"] / med["raw_ray"] <= BAR,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
