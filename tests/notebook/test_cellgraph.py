"""The cell graph model on its own: identity, edges, stale marking, warnings, change feed."""

from __future__ import annotations

import ast

import pytest

from agentcore_nb.errors import GraphError
from agentcore_nb.notebook.cellgraph import CellGraph, NameClashError
from agentcore_nb.notebook.cells import CellExecution, classify, parse_header


def run(cg: CellGraph, source: str, cell_id: str | None = None, ok: bool = True, notes: dict | None = None):
    """What the tracker does after a cell ran: classify, name, record."""
    header = parse_header(source)
    body = source.split("\n", 1)[1] if header is not None else source
    info = classify(ast.parse(body), body, header)
    name = cg.name_for(cell_id, source, header)
    return cg.record(
        CellExecution(name=name, source=source, info=info, ok=ok, cell_id=cell_id, notes=notes or {})
    )


def test_plain_cells_get_names_in_order_and_edges_from_definer_to_reader():
    cg = CellGraph()
    run(cg, "a = 1", "c1")
    run(cg, "b = a + 1", "c2")
    run(cg, "c = a + b", "c3")
    assert list(cg.cells) == ["cell_1", "cell_2", "cell_3"]
    assert cg.edges() == [("cell_1", "cell_2"), ("cell_1", "cell_3"), ("cell_2", "cell_3")]
    assert cg.cells["cell_3"].upstream == ["cell_1", "cell_2"]
    assert cg.states() == {"cell_1": "fresh", "cell_2": "fresh", "cell_3": "fresh"}


def test_rerun_marks_downstream_stale_and_rerunning_a_stale_cell_freshens_it():
    cg = CellGraph()
    run(cg, "a = 1", "c1")
    run(cg, "b = a + 1", "c2")
    run(cg, "c = b * 2", "c3")
    run(cg, "d = 5", "c4")
    report = run(cg, "a = 2", "c1")  # the same cell (cell id), edited
    assert report.name == "cell_1" and not report.added
    assert report.stale == ["cell_2", "cell_3"]
    assert cg.stale() == ["cell_2", "cell_3"]
    assert cg.cells["cell_4"].state == "fresh"
    report = run(cg, "b = a + 1", "c2")
    assert report.stale == []  # cell_3 was stale already
    assert cg.states() == {"cell_1": "fresh", "cell_2": "fresh", "cell_3": "stale", "cell_4": "fresh"}
    run(cg, "c = b * 2", "c3")
    assert cg.stale() == []


def test_same_source_without_cell_id_is_the_same_node():
    cg = CellGraph()
    run(cg, "x = 1")
    run(cg, "y = x")
    report = run(cg, "x = 1")
    assert report.name == "cell_1" and report.stale == ["cell_2"]
    assert len(cg.cells) == 2


def test_failed_cell_is_a_failed_node():
    cg = CellGraph()
    run(cg, "x = 1 / 0", "c1", ok=False)
    assert cg.cells["cell_1"].state == "failed"
    assert cg.cells["cell_1"].defines == ("x",)


def test_name_defined_in_two_cells_warns_and_readers_follow_the_last_run():
    cg = CellGraph()
    run(cg, "x = 1", "c1")
    run(cg, "y = x", "c2")
    report = run(cg, "x = 2", "c3")
    assert report.warnings == ["'x' is defined in 2 cells (cell_1, cell_3); readers use cell_3, run last"]
    assert cg.edges() == [("cell_3", "cell_2")]
    assert report.stale == ["cell_2"]
    run(cg, "x = 1", "c1")  # run cell_1 again: now it is the last definer
    assert cg.edges() == [("cell_1", "cell_2")]


def test_augmented_assignment_depends_on_the_other_definer():
    cg = CellGraph()
    run(cg, "total = 0", "c1")
    run(cg, "total += 5", "c2")
    assert cg.edges() == [("cell_1", "cell_2")]


def test_read_of_a_name_no_cell_defines_warns():
    cg = CellGraph(outside=lambda n: n == "In")
    report = run(cg, "print(In, mystery, other)", "c1")
    assert report.warnings == ["cell_1 reads 'mystery', 'other', which no cell defines"]
    report = run(cg, "print(mystery2)", "c2", ok=False)  # a NameError already says it
    assert report.warnings == []


def test_cycle_warns():
    cg = CellGraph()
    run(cg, "a = b + 1 if 'b' in dir() else 0", "c1")
    report = run(cg, "b = a + 1", "c2")
    assert report.warnings == ["cycle: cell_1 -> cell_2 -> cell_1"]
    assert "cycle: cell_1 -> cell_2 -> cell_1" in cg.problems()


def test_builtin_name_shadowed_by_a_cell_is_an_edge():
    cg = CellGraph()
    run(cg, "input = 'hello'", "c1")
    run(cg, "print(input.upper())", "c2")
    assert cg.edges() == [("cell_1", "cell_2")]


def test_node_header_names_the_cell_and_sets_its_policy():
    cg = CellGraph()
    run(cg, "%%node fetch --retries 2 --timeout 5 --fallback cached\ndata = load()", "c1")
    cell = cg.cells["fetch"]
    assert cell.policy.retries == 2 and cell.policy.timeout == 5 and cell.policy.fallback == "cached"
    assert cell.node.config == {"code": "data = load()"}


def test_header_added_to_an_existing_cell_renames_its_node_in_place():
    cg = CellGraph()
    run(cg, "a = 1", "c1")
    run(cg, "b = a", "c2")
    run(cg, "c = b", "c3")
    report = run(cg, "%%node source\na = 1", "c1")
    assert report.renamed_from == "cell_1" and report.name == "source"
    assert list(cg.cells) == ["source", "cell_2", "cell_3"]
    assert list(cg.graph.nodes) == ["source", "cell_2", "cell_3"]
    assert cg.edges() == [("source", "cell_2"), ("cell_2", "cell_3")]
    # the same cell run again without its header keeps the name
    assert run(cg, "a = 1", "c1").name == "source"


def test_header_name_owned_by_another_cell_is_a_clash():
    cg = CellGraph()
    run(cg, "%%node fetch\nx = 1", "c1")
    header = parse_header("%%node fetch\ny = 2")
    with pytest.raises(NameClashError, match="another cell already has this name"):
        cg.identify("c2", "%%node fetch\ny = 2", header)
    assert cg.identify("c1", "%%node fetch\nx = 2", header) == "fetch"  # the same cell: fine
    run(cg, "q = 1", "c9")  # auto-named cell_1
    with pytest.raises(NameClashError):
        cg.identify("c7", "%%node cell_1\nz = 1", parse_header("%%node cell_1\nz = 1"))


def test_auto_names_skip_names_taken_by_headers():
    cg = CellGraph()
    run(cg, "%%node cell_1\nx = 1", "c1")
    assert run(cg, "y = 1", "c2").name == "cell_2"


def test_fallback_cell_stands_in_and_is_not_a_second_definer():
    cg = CellGraph()
    run(cg, "%%node fetch --fallback cached\ndata = remote()", "c1")
    run(cg, "%%node cached\ndata = [1, 2]", "c2")
    report = run(cg, "n = len(data)", "c3")
    assert cg.standby() == {"cached"}
    assert report.warnings == []
    assert cg.edges() == [("fetch", "cell_1")]
    assert cg.problems() == ["fetch reads 'remote', which no cell defines"]


def test_remove_and_reset():
    cg = CellGraph()
    run(cg, "a = 1", "c1")
    run(cg, "b = a", "c2")
    assert cg.remove_cell_ids(["c1", "unknown"]) == ["cell_1"]
    assert list(cg.cells) == ["cell_2"] and cg.edges() == [] and cg.stale() == ["cell_2"]
    cg.reset()
    assert not cg.cells and len(cg.graph) == 0
    assert run(cg, "z = 1").name == "cell_1"


def test_magic_notes_add_names_config_and_metadata():
    cg = CellGraph()
    run(
        cg,
        "x = 1",
        "c1",
        notes={"defines": ["weather"], "config": {"tool": "get_weather"}, "tool": "get_weather"},
    )
    run(cg, "print(weather)", "c2")
    node = cg.cells["cell_1"].node
    assert cg.cells["cell_1"].defines == ("x", "weather")
    assert node.metadata["magic"] == {"tool": "get_weather"}
    assert cg.edges() == [("cell_1", "cell_2")]


def test_problems_and_check_for_export():
    cg = CellGraph()
    run(cg, "x = 1", "c1")
    run(cg, "x = 2", "c2")
    run(cg, "y = x + nowhere", "c3")
    assert cg.problems() == [
        "'x' is defined in 2 cells: cell_1, cell_2",
        "cell_3 reads 'nowhere', which no cell defines",
    ]
    with pytest.raises(GraphError, match="cannot be exported"):
        cg.check()


def test_engine_graph_mirrors_the_cells():
    cg = CellGraph()
    run(cg, "import math\nr = 2", "c1")
    run(cg, "area = math.pi * r ** 2\narea", "c2")
    data = cg.graph.to_dict()
    assert [n["name"] for n in data["nodes"]] == ["cell_1", "cell_2"]
    second = data["nodes"][1]
    assert second["after"] == ["cell_1"]
    assert second["config"] == {"code": "area = math.pi * r ** 2\narea"}
    assert second["metadata"]["reads"] == ["math", "r"] and second["metadata"]["defines"] == ["area"]
    assert second["metadata"]["state"] == "fresh" and second["metadata"]["cell_id"] == "c2"
    cg.graph.validate()


def test_change_feed_batches_what_changed():
    cg = CellGraph()
    seen: list[list[dict]] = []
    cg.subscribe(seen.append)
    run(cg, "a = 1", "c1")
    cg.flush()
    run(cg, "b = a", "c2")
    cg.flush()
    run(cg, "a = 3", "c1")
    cg.flush()
    assert [c["op"] for c in seen[0]] == ["node_added"]
    assert [c["op"] for c in seen[1]] == ["node_added", "edges"]
    assert seen[1][1]["edges"] == [["cell_1", "cell_2"]]
    assert seen[2] == [
        {"op": "node_updated", "node": cg.cells["cell_1"].to_json()},
        {"op": "state", "name": "cell_2", "state": "stale"},
    ]
    assert cg.flush() == []  # nothing new
    cg.unsubscribe(seen.append)
    run(cg, "c = 1", "c3")
    assert cg.flush() == [] and len(seen) == 3


def test_summary_text():
    cg = CellGraph()
    assert "no cells yet" in cg.summary()
    run(cg, "a = 1", "c1")
    run(cg, "%%node double --retries 1\nb = a * 2", "c2")
    run(cg, "a = 2", "c1")
    text = cg.summary()
    assert text.splitlines()[0] == "graph 'notebook': 2 nodes, 1 edge (1 fresh, 1 stale)"
    assert "double  python  stale    after cell_1; reads a; defines b; retries=1" in text
    assert text.splitlines()[-1] == "edges: cell_1 -> double"
