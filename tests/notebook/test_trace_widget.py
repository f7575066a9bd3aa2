"""The trace widget at the comm level, on the real AgentCore kernel: its state after %graph run and
%trace, the detail round trip, the plain-text fallback, bad run ids."""

from __future__ import annotations

from typing import Any

from .conftest import Kernel, cell_id


def widget_states(result: Any, module: str = "") -> list[tuple[str, dict]]:
    return [
        (m["content"]["comm_id"], m["content"]["data"]["state"])
        for m in result.of_type("comm_open")
        if m["content"]["target_name"] == "jupyter.widget"
        and "rows" in m["content"]["data"]["state"]
        and "header" in m["content"]["data"]["state"]
    ]


def wait_state(k: Kernel, comm_id: str, key: str, tries: int = 5) -> dict:
    """The next update on ``comm_id`` that carries ``key`` (echoes of our own update come first)."""
    for _ in range(tries):
        for m in k.comm_messages(comm_id, 1):
            state = m["content"]["data"].get("state", {})
            if key in state:
                return state
    raise AssertionError(f"no update with {key!r} on {comm_id}")


def test_graph_run_shows_the_trace_widget_and_trace_reopens_it(fresh: Kernel) -> None:
    k = fresh
    k.ok("a = 1", cell_id())
    k.ok("b = a + 1", cell_id())
    ran = k.ok("%graph run", cell_id())
    (comm_id, state), *_ = widget_states(ran)
    names = [r["name"] for r in state["rows"]]
    assert names[0].startswith("invoke_workflow ")
    assert len(names) == 3 and all(r["duration"] >= 0 for r in state["rows"])
    assert state["rows"][1]["parent"] == 0 and state["rows"][1]["depth"] == 1
    header = state["header"]
    assert header["spans"] == 3 and header["failures"] == 0 and header["nodes_by_kind"] == {"python": 2}
    bundle = [m for m in ran.of_type("display_data") if "text/plain" in m["content"]["data"]]
    assert any(names[0] in m["content"]["data"]["text/plain"] for m in bundle)  # no-widget fallback

    again = k.ok("%trace", cell_id())
    (comm2, state2), *_ = widget_states(again)
    assert [r["name"] for r in state2["rows"]] == names
    # clicking a span: the front end sets `selected`, the kernel answers with the detail
    span = state2["rows"][1]["id"]
    k.comm_send(comm2, {"method": "update", "state": {"selected": span}, "buffer_paths": []})
    detail = wait_state(k, comm2, "detail")["detail"]
    assert detail["id"] == span and detail["attributes"]["agentcore.node.kind"] == "python"


def test_trace_of_an_unknown_run_is_one_line(fresh: Kernel) -> None:
    out = fresh.run("%trace no-such-run", cell_id())
    text = out.stderr + out.stdout + "".join(e.get("evalue", "") for e in out.errors)
    assert "no trace recorded for run 'no-such-run'" in text
    assert "Traceback" not in text
