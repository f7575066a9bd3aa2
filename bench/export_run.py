"""Export + run local vs the same graph built by hand with the Python API, same Runtime, same run.

A generated notebook of 100 trivial cells (``x0 = 0``, then ``x{i} = x{i-1} + 1``) is exported to a
bundle; its graph runs through ``run_bundle`` (what ``agentcore run local`` calls) on a project's
durable runtime. The peer: the same 100-node chain written with ``Graph.node`` (plain functions,
the same inputs) and run on that very runtime. Both graphs are built afresh for every run, as
``run local`` builds its graph; runs alternate in pairs, and ``bundle_vs_handbuilt`` (bar <= 1.2) is
the median of the per-pair ratios of per-node wall time (``cpu_ratio``: the same from this
process's CPU time, which other load on the machine does not disturb).
Also reported: the export time, the bundle load (manifest check + module import) time, and the
time nbclient takes to run the notebook on the AgentCore kernel (once).

Usage: .venv/bin/python bench/export_run.py [--quick]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BAR = 1.2
CELLS = 100


def make_notebook(path: Path, n: int) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "agentcore",
        "display_name": "AgentCore (Python 3)",
        "language": "python",
    }
    nb.cells.append(nbformat.v4.new_code_cell("x0 = 0", id="c000"))
    for i in range(1, n):
        nb.cells.append(nbformat.v4.new_code_cell(f"x{i} = x{i - 1} + 1", id=f"c{i:03d}"))
    nbformat.write(nb, path)
    return path


HAND = types.ModuleType("bench_export_handcells")  # importable by name, as the bundle's cells are
sys.modules[HAND.__name__] = HAND


def _step(i: int) -> Any:
    """The hand-written body of cell i: the same work, the same result shape, a module-level
    function (so the run's spec is saved, resumable, as the bundle's is)."""
    if i == 0:

        def fn(**kw: Any) -> dict[str, int]:
            return {"x0": 0}

    else:
        prev, name = f"x{i - 1}", f"x{i}"

        def fn(**kw: Any) -> dict[str, int]:
            return {name: kw[prev] + 1}

    fn.__module__, fn.__qualname__ = HAND.__name__, f"cell_{i}"
    setattr(HAND, fn.__qualname__, fn)
    return fn


def handbuilt(n: int) -> Any:
    from agentcore_nb import Graph

    g = Graph("handbuilt")
    g.node("cell_c000", _step(0))
    for i in range(1, n):
        g.node(f"cell_c{i:03d}", _step(i), inputs={f"x{i - 1}": f"cell_c{i - 1:03d}.x{i - 1}"})
    return g


def nbclient_seconds(path: Path) -> float:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    NotebookClient(
        nb, kernel_name="agentcore", timeout=300, resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    reps = 11 if args.quick else 31
    work = Path(tempfile.mkdtemp(prefix="agentcore-bench-export-"))
    os.environ["AGENTCORE_HOME"] = str(work / "home")

    from agentcore_nb.export import export_notebook, load_bundle
    from agentcore_nb.export.runner import build_graph, install_definitions, load_module, run_input
    from agentcore_nb.project import Project

    nb_path = make_notebook(work / "cells100.ipynb", CELLS)
    t0 = time.perf_counter()
    out = export_notebook(nb_path, work / "bundle")
    export_ms = (time.perf_counter() - t0) * 1000.0
    nb_s = nbclient_seconds(nb_path)

    project = Project.current()
    runtime = project.runtime()
    loads: list[float] = []
    runs: dict[str, list[float]] = {"bundle": [], "hand": []}
    cpu: dict[str, list[float]] = {"bundle": [], "hand": []}
    ratios: list[float] = []
    for rep in range(reps + 1):  # the first pair warms both up and is not counted
        t0 = time.perf_counter()
        bundle = load_bundle(out)
        module = load_module(bundle)
        graph = build_graph(bundle, module)
        install_definitions(bundle, module, project)
        value = run_input(bundle, None)
        load_ms = (time.perf_counter() - t0) * 1000.0
        order = [("bundle", graph, value), ("hand", handbuilt(CELLS), None)]
        if rep % 2:
            order.reverse()
        pair: dict[str, float] = {}
        for which, g, v in order:
            c1, t1 = time.process_time(), time.perf_counter()
            result = runtime.run(g, v)
            pair[which] = (time.perf_counter() - t1) * 1000.0 / CELLS
            spent = (time.process_time() - c1) * 1000.0 / CELLS
            assert result.ok, result.errors
            assert result.outputs[f"cell_c{CELLS - 1:03d}"][f"x{CELLS - 1}"] == CELLS - 1
            if rep:
                runs[which].append(pair[which])
                cpu[which].append(spent)
        if rep:
            loads.append(load_ms)
            ratios.append(pair["bundle"] / pair["hand"])
    project.close()
    bundle_ms, hand_ms = statistics.median(runs["bundle"]), statistics.median(runs["hand"])
    ratio = statistics.median(ratios)
    cpu_ratio = statistics.median(cpu["bundle"]) / statistics.median(cpu["hand"])
    figures = {
        "benchmark": "export_run",
        "peer": "the same graph built by hand with the Python API, same Runtime",
        "cells": CELLS,
        "bundle_per_node_ms": round(bundle_ms, 4),
        "handbuilt_per_node_ms": round(hand_ms, 4),
        "bundle_vs_handbuilt": round(ratio, 3),
        "cpu_ratio": round(cpu_ratio, 3),
        "bundle_load_ms": round(statistics.median(loads), 2),
        "export_ms": round(export_ms, 1),
        "nbclient_s": round(nb_s, 2),
        "repetitions": reps,
        "bars": {"bundle_vs_handbuilt": BAR},
        "pass": ratio <= BAR,
    }
    print(f"bundle {bundle_ms:.4f} ms/node vs hand-built {hand_ms:.4f} ms/node: {ratio:.3f}x (bar {BAR})")
    print(f"export {export_ms:.1f} ms; bundle load {figures['bundle_load_ms']} ms; nbclient {nb_s:.2f} s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
