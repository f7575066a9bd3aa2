"""Events: every type round-trips through JSON; unknown types and newer versions are refused."""

from __future__ import annotations

import json

import pytest

from agentcore_nb import events as ev
from agentcore_nb.errors import EventLogError

SAMPLES = [
    ev.RunProvisioned(
        run_id="r", graph_name="g", graph={"agentcore_graph": 1, "name": "g", "nodes": []}, input={"a": 1}
    ),
    ev.ContextFetched(run_id="r", context={"memory": "3 hits"}),
    ev.RunResumed(run_id="r", committed=["a", "b"]),
    ev.RunExecuted(
        run_id="r",
        status="failed",
        output={"x": [1, 2]},
        error="b: boom",
        failed_nodes=["b"],
        duration_ms=1.5,
    ),
    ev.RunVanished(run_id="r", duration_ms=2.0),
    ev.NodeStarted(run_id="r", node_id="a", kind="tool", attempt=2),
    ev.NodeSucceeded(run_id="r", node_id="a", output={"$pickle": "AAAA"}, namespace={"x": 1}, via="fb"),
    ev.NodeFailed(run_id="r", node_id="a", error_type="ValueError", error="ValueError: no", final=False),
    ev.NodeRetried(run_id="r", node_id="a", attempt=3, delay_s=0.25, error="x"),
    ev.NodeSkipped(run_id="r", node_id="a", reason="upstream failed"),
    ev.NodeRerouted(run_id="r", node_id="a", fallback="b", error="e"),
    ev.AgentInvocationEvent(
        run_id="r", agent="support", request="hi", response="hello", usage={"input_tokens": 3}
    ),
    ev.ActionEvent(
        run_id="r", action="getOrderStatus", input={"order_id": "1"}, output={"status": "delivered"}
    ),
    ev.MemoryUpdateEvent(run_id="r", op="forget", namespace="support/refunds", record_id="m1"),
]


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.type)
def test_round_trip(event: ev.Event) -> None:
    event.session_id, event.trace_id, event.span_id, event.seq = "s", "t" * 32, "p" * 16, 7
    text = event.to_json()
    back = ev.from_json(text)
    assert back == event
    assert type(back) is type(event)
    assert json.loads(text)["type"] == event.type
    assert json.loads(text)["v"] == ev.EVENT_VERSION


def test_every_event_carries_the_common_fields() -> None:
    for cls in ev.event_types().values():
        data = cls().to_dict()
        for name in ("run_id", "session_id", "node_id", "trace_id", "span_id", "ts", "seq", "v", "type"):
            assert name in data, (cls.type, name)


def test_all_lifecycle_types_are_registered() -> None:
    names = set(ev.event_types())
    assert {"AgentInvocationEvent", "ActionEvent", "MemoryUpdateEvent"} <= names
    assert {
        "NodeStarted",
        "NodeSucceeded",
        "NodeFailed",
        "NodeRetried",
        "NodeSkipped",
        "NodeRerouted",
    } <= names
    assert {"RunProvisioned", "ContextFetched", "RunExecuted", "RunVanished"} <= names


def test_unknown_type_and_newer_version_are_refused() -> None:
    with pytest.raises(EventLogError, match="unknown event type 'Bogus'"):
        ev.from_json('{"type": "Bogus"}')
    with pytest.raises(EventLogError, match="newer than"):
        ev.from_json(json.dumps({"type": "NodeStarted", "v": ev.EVENT_VERSION + 1}))
    with pytest.raises(EventLogError, match="malformed event JSON"):
        ev.from_json("{not json")
    with pytest.raises(EventLogError, match="no 'type'"):
        ev.from_dict({"run_id": "x"})


def test_components_can_define_event_types() -> None:
    @ev.event_type
    class ToolRegistered(ev.Event):
        tool: str = ""

    e = ToolRegistered(tool="crm", run_id="r")
    assert ev.from_json(e.to_json()) == e
    assert ev.event_types()["ToolRegistered"] is ToolRegistered
