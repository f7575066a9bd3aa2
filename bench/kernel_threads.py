"""Where a kernel's time goes per cell: CPU per thread, the AgentCore kernel vs the stock ipykernel.

Both kernels are started in the same run and sent ``1+1`` cells alternately (as in
``kernel_overhead.py``); each kernel thread's CPU (utime + stime from ``/proc/PID/task/*/stat``,
named from ``threading.enumerate()``) is read before and after and divided by the cells sent. For
the AgentCore kernel it also reports the bookkeeping a cell does before its reply (``sync_ms``) and
in total (``bookkeeping_ms``, including what runs after the reply). A diagnostic for
``roundtrip_ratio``: the main thread's extra CPU is the cell's node on the kernel's own thread; the
writer threads' CPU competes with the kernel's threads on a small machine. No bar.

Usage: .venv/bin/python bench/kernel_threads.py [--quick]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kernel_overhead import Kernel

_TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(k: Kernel) -> dict[int, float]:
    out = {}
    for task in Path(f"/proc/{k.pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / _TICK
    return out


def per_thread(k: Kernel, before: dict[int, float], after: dict[int, float], n: int) -> dict[str, float]:
    names = dict(k.expression("[(t.native_id, t.name) for t in __import__('threading').enumerate()]"))
    out: dict[str, float] = {}
    for tid, cpu in after.items():
        name = names.get(tid, "native")  # threads Python does not know (ZMQ's, DuckDB's)
        out[name] = out.get(name, 0.0) + (cpu - before.get(tid, 0.0)) / n * 1000
    return {name: round(ms, 3) for name, ms in sorted(out.items()) if ms > 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer cells")
    args = parser.parse_args()
    n = 100 if args.quick else 400
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env["AGENTCORE_HOME"] = tempfile.mkdtemp(prefix="agentcore-bench-")
    stock, ours = Kernel("python3", env), Kernel("agentcore", env)
    try:
        for k in (stock, ours):
            for _ in range(20):
                k.roundtrip("1+1")
        tracker = "get_ipython()._agentcore_session.tracker"
        ours.roundtrip(f"_sync_ms = []; {tracker}.runner.on_drained = None")  # time before the reply only
        before = {"stock": thread_cpu(stock), "ours": thread_cpu(ours)}
        wall: dict[str, list[float]] = {"stock": [], "ours": []}
        for i in range(n):
            pair = [("stock", stock), ("ours", ours)]
            for label, k in pair if i % 2 == 0 else reversed(pair):
                wall[label].append(k.roundtrip("1+1"))
        after = {"stock": thread_cpu(stock), "ours": thread_cpu(ours)}
        sync = ours.expression(f"list({tracker}.timings)[-{n}:]")
        ours.roundtrip(f"{tracker}.runner.on_drained = {tracker}._drained")
        for _ in range(n // 2):
            ours.roundtrip("1+1")
        total = ours.expression(f"list({tracker}.timings)[-{n // 2}:]")
        threads = {"stock": per_thread(stock, before["stock"], after["stock"], n),
                   "agentcore": per_thread(ours, before["ours"], after["ours"], n)}  # fmt: skip
    finally:
        stock.close()
        ours.close()
    med = statistics.median
    result = {
        "benchmark": "kernel_threads",
        "peer": "ipykernel python3 (stock)",
        "roundtrip_stock_ms": round(med(wall["stock"]) * 1000, 3),
        "roundtrip_agentcore_ms": round(med(wall["ours"]) * 1000, 3),
        "roundtrip_ratio": round(med(wall["ours"]) / med(wall["stock"]), 3),
        "cpu_ms_per_cell": threads,
        "cpu_stock_ms": round(sum(threads["stock"].values()), 3),
        "cpu_agentcore_ms": round(sum(threads["agentcore"].values()), 3),
        "sync_ms": round(med(sync) * 1000, 3),
        "bookkeeping_ms": round(med(total) * 1000, 3),
        "cells": n,
    }
    for label, cpu in threads.items():
        print(f"{label}: " + ", ".join(f"{name} {ms} ms" for name, ms in cpu.items()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
