"""The frontend channel on the real kernel: the ``agentcore.graph`` comm and the ``%graph`` widget,
asserted through the comm messages a browser would receive."""

from __future__ import annotations

import queue
import time
from typing import Any

from .conftest import Kernel
from .message_spec import validate_message


def comm_data(result: Any, comm_id: str) -> list[dict]:
    return [m["content"]["data"] for m in result.of_type("comm_msg") if m["content"]["comm_id"] == comm_id]


def test_graph_comm_publishes_snapshot_and_changes(fresh: Kernel):
    k = fresh
    k.ok("a = 1", "g1")
    comm_id = k.comm_open("agentcore.graph")
    (snapshot,) = k.comm_messages(comm_id, 1)
    validate_message(snapshot)
    data = snapshot["content"]["data"]
    assert data["v"] == 1 and data["type"] == "snapshot"
    assert data["graph"]["name"] == "notebook" and data["graph"]["edges"] == []
    assert [n["name"] for n in data["graph"]["nodes"]] == ["cell_1"]
    node = data["graph"]["nodes"][0]
    assert node == {
        "name": "cell_1",
        "kind": "python",
        "state": "fresh",
        "cell_id": "g1",
        "reads": [],
        "defines": ["a"],
        "deletes": [],
        "upstream": [],
        "policy": {},
        "execution_count": node["execution_count"],
        "warnings": [],
        "error": "",
    }

    added = k.ok("b = a * 2", "g2")
    (msg,) = comm_data(added, comm_id)
    assert msg["type"] == "changes" and msg["seq"] > data["seq"]
    assert [c["op"] for c in msg["changes"]] == ["node_added", "edges"]
    assert msg["changes"][0]["node"]["name"] == "cell_2"
    assert msg["changes"][1]["edges"] == [["cell_1", "cell_2"]]

    rerun = k.ok("a = 5", "g1")
    running, done = comm_data(rerun, comm_id)
    assert running["changes"] == [{"op": "state", "name": "cell_1", "state": "running"}]
    assert [c["op"] for c in done["changes"]] == ["node_updated", "state", "notes"]
    assert done["changes"][0]["node"]["state"] == "fresh"
    assert done["changes"][1] == {"op": "state", "name": "cell_2", "state": "stale"}
    assert done["changes"][2] == {  # the note a stock kernel's cell output does not get
        "op": "notes",
        "name": "cell_1",
        "notes": ["stale now: cell_2 (re-run them, or %graph run --from cell_1)"],
    }

    ran = k.ok("%graph run --only cell_2")
    ops = [c for m in comm_data(ran, comm_id) for c in m["changes"]]
    assert ops[0]["op"] == "run_started" and ops[0]["nodes"] == ["cell_2"]
    assert {"op": "state", "name": "cell_2", "state": "running"} in ops
    assert {"op": "state", "name": "cell_2", "state": "fresh"} in ops
    assert ops[-1]["op"] == "run_finished" and ops[-1]["status"] == "succeeded"
    assert ops[-1]["run_id"] == ops[0]["run_id"]

    k.comm_send(comm_id, {"type": "refresh"})
    (again,) = k.comm_messages(comm_id, 1)
    assert again["content"]["data"]["type"] == "snapshot"
    assert [n["state"] for n in again["content"]["data"]["graph"]["nodes"]] == ["fresh", "fresh"]
    k.comm_send(comm_id, {"type": "launch"})
    (err,) = k.comm_messages(comm_id, 1)
    assert err["content"]["data"]["type"] == "error"
    assert "unknown request type 'launch'" in err["content"]["data"]["error"]

    # a closed comm gets nothing more
    msg = k.client.session.msg("comm_close", {"comm_id": comm_id, "data": {}})
    k.client.shell_channel.send(msg)
    assert comm_data(k.ok("c = 1", "g3"), comm_id) == []


def widget_models(result: Any) -> dict[str, dict]:
    """comm_id -> model state of every widget the cell created."""
    return {
        m["content"]["comm_id"]: m["content"]["data"]["state"]
        for m in result.of_type("comm_open")
        if m["content"]["target_name"] == "jupyter.widget"
    }


def updates(messages: list[dict], comm_id: str) -> list[dict]:
    return [
        m["content"]["data"]["state"]
        for m in messages
        if m["header"]["msg_type"] == "comm_msg"
        and m["content"]["comm_id"] == comm_id
        and m["content"]["data"].get("method") == "update"
    ]


def test_graph_widget_state_through_comm_messages(fresh: Kernel):
    k = fresh
    k.ok("x = 1", "v1")
    k.ok("%%node double\ny = x * 2", "v2")
    k.run("%%node broken\nz = y / 0", "v3")
    shown = k.ok("%graph show --buttons")
    for m in shown.messages:
        validate_message(m)
    (bundle,) = shown.data
    assert bundle["text/plain"].startswith("graph 'notebook': 3 nodes, 2 edges (2 fresh, 1 failed)")
    view = bundle["application/vnd.jupyter.widget-view+json"]
    models = widget_models(shown)
    assert view["model_id"] in models
    box = models[view["model_id"]]
    assert box["_model_name"] == "VBoxModel" and "agentcore-graph" in box["_dom_classes"]
    buttons = {s["description"]: (cid, s) for cid, s in models.items() if s["_model_name"] == "ButtonModel"}
    assert set(buttons) == {"cell_1", "double", "broken"}
    assert {d: s["button_style"] for d, (_, s) in buttons.items()} == {
        "cell_1": "success",
        "double": "success",
        "broken": "danger",
    }
    assert buttons["broken"][1]["tooltip"] == "python · failed"
    labels = [s["value"] for s in models.values() if s["_model_name"] == "LabelModel"]
    assert labels == ["python"]
    htmls = [s["value"] for s in models.values() if s["_model_name"] == "HTMLModel"]
    assert "edges: cell_1 &rarr; double, double &rarr; broken" in htmls

    # the view is live: re-running the first cell turns its dependents stale (warning style)
    rerun = k.ok("x = 2", "v1")
    double_id = buttons["double"][0]
    assert {"button_style": "warning"} in updates(rerun.messages, double_id)
    assert {"tooltip": "python · stale"} in updates(rerun.messages, double_id)

    # a click on a node shows its details
    msg = k.client.session.msg(
        "comm_msg", {"comm_id": double_id, "data": {"method": "custom", "content": {"event": "click"}}}
    )
    k.client.shell_channel.send(msg)
    details_id = next(
        cid for cid, s in models.items() if s["_model_name"] == "HTMLModel" and s["value"] == ""
    )
    deadline = time.monotonic() + 60
    while not updates(k.stray, details_id) and time.monotonic() < deadline:
        try:
            k.stray.append(k.client.get_iopub_msg(timeout=0.2))
        except queue.Empty:
            pass
    (details,) = [u["value"] for u in updates(k.stray, details_id)]
    assert details.startswith("<b>double</b><br>kind: python<br>state: stale<br>reads: x<br>defines: y")
    assert "after: cell_1" in details and "before: broken" in details
