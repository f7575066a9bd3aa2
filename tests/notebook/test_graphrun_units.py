"""The pieces of ``%graph run`` that need no kernel: the run graph built from cells, node selection,
the last-expression preview, and the packaged kernelspec defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentcore_nb.errors import AgentcoreError
from agentcore_nb.graph.spec import Graph
from agentcore_nb.notebook.cellgraph import CellGraph
from agentcore_nb.notebook.graphrun import build_run_graph, select_nodes, summary, with_output_summary
from agentcore_nb.notebook.kernelspec import DEFAULT_SPEC
from agentcore_nb.runtime.runtime import Runtime

from .test_cellgraph import run


def test_last_expression_becomes_a_one_line_preview():
    graph = Graph("preview")
    graph.node("n", code=with_output_summary("a = 1\n{'k': [a] * 3,\n 'f': open}\n"))
    with Runtime() as rt:
        result = rt.run(graph)
    assert result.outputs["n"] == "{'k': [1, 1, 1], 'f': <built-in function open>}"  # not the objects
    assert with_output_summary("x = 1") == "x = 1"  # no last expression
    assert with_output_summary("x = 1\nx;") == "x = 1\nx;"  # display suppressed: left alone
    assert with_output_summary("a = 1; a") == "a = 1; a"  # shares a line: left alone
    assert summary(None) is None and summary("x" * 500).endswith("...")


def test_run_graph_orders_cells_that_define_the_same_name():
    cg = CellGraph()
    run(cg, "x = 1", "c1")
    run(cg, "y = x", "c2")
    run(cg, "x = 2", "c3")  # run last: readers use it, and it must run after cell_1
    run(cg, "%%node slow --timeout 1 --fallback quick\nz = 1", "c4")
    run(cg, "%%node quick\nz = 0", "c5")
    graph = build_run_graph(cg)
    assert isinstance(graph, Graph) and graph.name == "notebook"
    assert {n.name: n.after for n in graph} == {
        "cell_1": [],
        "cell_2": ["cell_3"],
        "cell_3": ["cell_1"],
        "slow": [],
        "quick": [],
    }
    assert all(n.kind == "python" for n in graph)
    assert graph["slow"].policy.timeout == 1 and graph["slow"].policy.fallback == "quick"
    assert graph["cell_2"].config["defines"] == ["y"]
    graph.validate()
    ns: dict = {}
    with Runtime() as rt:
        result = rt.run(graph, namespace=ns)
    assert result.ok and ns["x"] == 2 and ns["y"] == 2 and ns["z"] == 1


def test_select_nodes():
    cg = CellGraph()
    run(cg, "a = 1", "c1")
    run(cg, "b = a", "c2")
    run(cg, "c = 5", "c3")
    run(cg, "%%node main --fallback spare\nd = 1", "c4")
    run(cg, "%%node spare\nd = 2", "c5")
    assert select_nodes(cg, None, None) is None
    assert select_nodes(cg, "cell_1", None) == ["cell_1", "cell_2"]
    assert select_nodes(cg, None, ["cell_3", "cell_3", "cell_1"]) == ["cell_3", "cell_1"]
    with pytest.raises(AgentcoreError, match="no node 'nope' in the notebook graph"):
        select_nodes(cg, "nope", None)
    with pytest.raises(AgentcoreError, match="no node 'x', 'y'"):
        select_nodes(cg, None, ["x", "cell_1", "y"])
    with pytest.raises(AgentcoreError, match="'spare' only runs as a fallback"):
        select_nodes(cg, "spare", None)


def test_packaged_default_kernelspec_matches_the_kernel_folder():
    folder = Path(__file__).resolve().parents[2] / "kernel"
    assert json.loads((folder / "kernel.json").read_text()) == DEFAULT_SPEC
