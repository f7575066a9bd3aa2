"""Graph overhead: agentcore-nb vs LangGraph, same graphs, same process, same run.

Measures per-node overhead of trivial nodes (so the engine's own cost is what is timed):
  chain    100 nodes in a line
  fanout   1 source -> 100 parallel nodes -> 1 join
  invoke   a 3-node chain invoked 1000 times
  durable  the 100-node chain with our DuckDB event log vs LangGraph with its in-memory checkpointer
  parallel 100 nodes that each sleep 100 ms, fanned out (wall time; ours only)

Usage: .venv/bin/python bench/graph_overhead.py [--quick]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import operator
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from agentcore_nb import DuckDBEventLog, Graph, Runtime

BARS = {
    "chain_ratio": 0.25,
    "fanout_ratio": 0.25,
    "invoke_ratio": 0.25,
    "durable_ratio": 1.0,
    "parallel_s": 0.3,
}


# ----------------------------------------------------------------------------- agentcore-nb graphs
def inc(x: int) -> int:
    return x + 1


def ours_chain(n: int) -> Graph:
    g = Graph("chain")
    g.node("n0", inc, inputs={"x": "$input"})
    for i in range(1, n):
        g.node(f"n{i}", inc, inputs={"x": f"n{i - 1}"})
    return g


def ours_fanout(n: int, body: Any = inc) -> Graph:
    g = Graph("fanout")
    g.node("src", inc, inputs={"x": "$input"})
    for i in range(n):
        g.node(f"b{i}", body, inputs={"x": "src"})

    def join(**branches: int) -> int:
        return len(branches)

    g.node("join", join, inputs={f"b{i}": f"b{i}" for i in range(n)})
    return g


def sleep_100ms(x: int) -> int:
    time.sleep(0.1)
    return x


# ----------------------------------------------------------------------------- LangGraph graphs
class ChainState(TypedDict):
    x: int


class FanState(TypedDict):
    xs: Annotated[list, operator.add]


def lg_chain(n: int, checkpointer: Any = None) -> Any:
    g = StateGraph(ChainState)
    for i in range(n):
        g.add_node(f"n{i}", lambda s: {"x": s["x"] + 1})
    g.add_edge(START, "n0")
    for i in range(n - 1):
        g.add_edge(f"n{i}", f"n{i + 1}")
    g.add_edge(f"n{n - 1}", END)
    return g.compile(checkpointer=checkpointer)


def lg_fanout(n: int) -> Any:
    g = StateGraph(FanState)
    g.add_node("src", lambda s: {"xs": [0]})
    for i in range(n):
        g.add_node(f"b{i}", lambda s, i=i: {"xs": [i]})
        g.add_edge("src", f"b{i}")
        g.add_edge(f"b{i}", "join")
    g.add_node("join", lambda s: {"xs": [len(s["xs"])]})
    g.add_edge(START, "src")
    g.add_edge("join", END)
    return g.compile()


# ----------------------------------------------------------------------------- timing
def per_call(fn: Any, repeats: int, rounds: int = 5) -> float:
    """Median over rounds of the mean seconds per call."""
    fn()  # warm up
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn()
        samples.append((time.perf_counter() - t0) / repeats)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (under a minute)")
    args = parser.parse_args()
    reps = 3 if args.quick else 10
    invokes = 300 if args.quick else 1000
    n = 100

    rt = Runtime()
    results: dict[str, Any] = {}

    chain = ours_chain(n)
    lgc = lg_chain(n)
    ours = per_call(lambda: rt.run(chain, 0).raise_for_status(), reps) / n
    theirs = per_call(lambda: lgc.invoke({"x": 0}), reps) / n
    results["chain_us_per_node"] = {"agentcore": ours * 1e6, "langgraph": theirs * 1e6}
    results["chain_ratio"] = ours / theirs

    fan = ours_fanout(n)
    lgf = lg_fanout(n)
    ours = per_call(lambda: rt.run(fan, 0).raise_for_status(), reps) / (n + 2)
    theirs = per_call(lambda: lgf.invoke({"xs": []}), reps) / (n + 2)
    results["fanout_us_per_node"] = {"agentcore": ours * 1e6, "langgraph": theirs * 1e6}
    results["fanout_ratio"] = ours / theirs

    small = ours_chain(3)
    lgs = lg_chain(3)
    ours = per_call(lambda: rt.run(small, 0), invokes, rounds=3)
    theirs = per_call(lambda: lgs.invoke({"x": 0}), invokes, rounds=3)
    results["invoke_us_per_run"] = {"agentcore": ours * 1e6, "langgraph": theirs * 1e6}
    results["invoke_ratio"] = ours / theirs

    with tempfile.TemporaryDirectory() as tmp:
        durable_rt = Runtime(DuckDBEventLog(Path(tmp) / "bench.duckdb"))
        saver_graph = lg_chain(n, InMemorySaver())
        counter = iter(range(10**9))
        ours = per_call(lambda: durable_rt.run(chain, 0).raise_for_status(), reps) / n
        theirs = (
            per_call(
                lambda: saver_graph.invoke({"x": 0}, {"configurable": {"thread_id": str(next(counter))}}),
                reps,
            )
            / n
        )
        results["durable_events"] = durable_rt.log.count()  # type: ignore[attr-defined]
        durable_rt.close()
        # durability="sync": every node's completion is committed before its dependents start
        sync_rt = Runtime(DuckDBEventLog(Path(tmp) / "bench-sync.duckdb"), durability="sync")
        ours_sync = per_call(lambda: sync_rt.run(chain, 0).raise_for_status(), reps) / n
        sync_rt.close()
    results["durable_us_per_node"] = {"agentcore": ours * 1e6, "langgraph_inmemory_saver": theirs * 1e6}
    results["durable_ratio"] = ours / theirs
    results["durable_sync_us_per_node"] = ours_sync * 1e6

    sleepy = ours_fanout(n, sleep_100ms)
    rt.run(sleepy, 0)  # start the worker threads once
    t0 = time.perf_counter()
    rt.run(sleepy, 0).raise_for_status()
    results["parallel_s"] = time.perf_counter() - t0

    for key in ("chain", "fanout", "invoke", "durable"):
        detail = results.get(f"{key}_us_per_node") or results.get(f"{key}_us_per_run")
        print(f"{key:8s} " + "  ".join(f"{k} {v:9.1f} us" for k, v in detail.items()))
    print(f"durable (sync commit per node) {results['durable_sync_us_per_node']:.1f} us per node")
    print(f"parallel {results['parallel_s']:.3f} s for 100 x 100 ms sleeps")
    summary = {
        "chain_ratio": round(results["chain_ratio"], 4),
        "fanout_ratio": round(results["fanout_ratio"], 4),
        "invoke_ratio": round(results["invoke_ratio"], 4),
        "durable_ratio": round(results["durable_ratio"], 4),
        "parallel_s": round(results["parallel_s"], 4),
        "chain_us_per_node": round(results["chain_us_per_node"]["agentcore"], 2),
        "langgraph_chain_us_per_node": round(results["chain_us_per_node"]["langgraph"], 2),
        "durable_sync_ratio": round(results["durable_sync_us_per_node"] * 1e-6 / theirs, 4),
        "quick": args.quick,
    }
    summary["meets_bars"] = all(summary[k] <= bar for k, bar in BARS.items())
    rt.close()
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
