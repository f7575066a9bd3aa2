"""The %graph DAG widget: layered layout (units), and its state over the comm on the real kernel."""

from __future__ import annotations

from agentcore_nb.notebook.views.layout import NODE_H, layout

from .conftest import Kernel, cell_id


def test_layout_layers_follow_edges_and_nodes_never_overlap() -> None:
    names = [f"n{i}" for i in range(60)]
    edges = [(f"n{i}", f"n{i + 1}") for i in range(0, 59, 3)] + [("n0", f"n{i}") for i in range(5, 60, 7)]
    lay = layout(names, edges)
    for a, b in edges:
        assert lay.y[a] < lay.y[b]  # every arrow points down
    spots = {(round(lay.x[n]), round(lay.y[n])) for n in names}
    assert len(spots) == len(names)
    for a, b, points in lay.edges:
        assert points[0][1] == lay.y[a] + NODE_H / 2 and points[-1][1] == lay.y[b] - NODE_H / 2
    assert lay.width > 0 and lay.height > 0
    assert layout([], []).edges == []


def test_layout_orders_to_avoid_crossings() -> None:
    # two chains whose second layer is given in the "wrong" order: the sweep untangles them
    lay = layout(["a", "b", "d", "c"], [("a", "c"), ("b", "d")])
    assert (lay.x["a"] < lay.x["b"]) == (lay.x["c"] < lay.x["d"])


def test_graph_widget_state_and_live_updates(fresh: Kernel) -> None:
    k = fresh
    k.ok("x = 1", "g1")
    k.ok("%%node double\ny = x * 2", "g2")
    k.run("%%node broken\nz = y / 0", "g3")
    shown = k.ok("%graph", cell_id())
    (model,) = [
        (m["content"]["comm_id"], m["content"]["data"]["state"])
        for m in shown.of_type("comm_open")
        if "graph" in m["content"]["data"]["state"]
    ]
    comm_id, state = model
    g = state["graph"]
    nodes = {n["name"]: n for n in g["nodes"]}
    assert set(nodes) == {"cell_1", "double", "broken"}
    assert {n: v["state"] for n, v in nodes.items()} == {
        "cell_1": "fresh",
        "double": "fresh",
        "broken": "failed",
    }
    assert [(e["source"], e["target"]) for e in g["edges"]] == [("cell_1", "double"), ("double", "broken")]
    assert nodes["cell_1"]["y"] < nodes["double"]["y"] < nodes["broken"]["y"]
    assert nodes["double"]["first_lines"] == "%%node double\ny = x * 2"
    assert "ZeroDivisionError" in nodes["broken"]["last_run"]["error"]
    (bundle,) = [d for d in shown.data if "text/plain" in d]
    assert bundle["text/plain"].startswith("graph 'notebook': 3 nodes, 2 edges")
    # live: re-running the first cell turns its dependents stale
    rerun = k.ok("x = 2", "g1")
    pictures = [
        m["content"]["data"]["state"]["graph"]
        for m in rerun.messages + k.stray
        if m["header"]["msg_type"] == "comm_msg"
        and m["content"]["comm_id"] == comm_id
        and "graph" in m["content"]["data"].get("state", {})
    ]
    assert pictures and {n["name"]: n["state"] for n in pictures[-1]["nodes"]}["double"] == "stale"
