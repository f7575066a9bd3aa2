"""What a cell's magics and components record belongs to the cell: events carry its run, node,
session and trace ids, and their spans hang under the cell's span (OpenTelemetry SDK, in-memory
exporter). An agent run from a cell is a child run."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Kernel

SETUP = (
    "from opentelemetry import trace\n"
    "from opentelemetry.sdk.trace import TracerProvider\n"
    "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
    "from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter\n"
    "spans = InMemorySpanExporter()\n"
    "provider = TracerProvider()\n"
    "provider.add_span_processor(SimpleSpanProcessor(spans))\n"
    "trace.set_tracer_provider(provider)"
)

SPANS = (
    "[{'name': s.name, 'trace': format(s.context.trace_id, '032x'), 'id': format(s.context.span_id, '016x'),"
    " 'parent': format(s.parent.span_id, '016x') if s.parent else None,"
    " 'node': s.attributes.get('agentcore.node.name'), 'run': s.attributes.get('agentcore.run.id')}"
    " for s in spans.get_finished_spans()]"
)

EVENTS = (
    "[{'type': e.type, 'run': e.run_id, 'node': e.node_id, 'session': e.session_id, 'trace': e.trace_id,"
    " 'span': e.span_id, 'action': getattr(e, 'action', ''), 'op': getattr(e, 'op', ''),"
    " 'parent_run': getattr(e, 'parent_run_id', ''), 'parent_node': getattr(e, 'parent_node_id', '')}"
    " for e in get_ipython()._agentcore_session.project.event_log.events()]"
)


@pytest.fixture(scope="module")
def traced(kernel: Kernel) -> Kernel:
    kernel.ok(SETUP, "otel")
    return kernel


def cell_span(spans: list[dict[str, Any]], node: str) -> dict[str, Any]:
    (found,) = [s for s in spans if s["node"] == node and s["name"].endswith(f" {node}") and s["run"]]
    return found


def descendants(spans: list[dict[str, Any]], root: dict[str, Any]) -> list[dict[str, Any]]:
    by_parent: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        if s["parent"]:
            by_parent.setdefault(s["parent"], []).append(s)
    out, todo = [], [root["id"]]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            out.append(child)
            todo.append(child["id"])
    return out


def node_of(k: Kernel, cell_id: str) -> str:
    """The node a cell's execution ran as: its graph node, or (a cell of kindless magics) its own."""
    names = {n["cell_id"]: n["name"] for n in k.snapshot()["nodes"]}
    return str(names.get(cell_id, f"control-{cell_id}"))


def check_event_ids(event: dict[str, Any], run: str, node: str, session: str, span: dict[str, Any]) -> None:
    assert (event["run"], event["node"], event["session"]) == (run, node, session), event
    assert event["trace"] == span["trace"], (event, span)


def test_tool_and_memory_events_carry_the_cells_ids_and_spans_nest(traced: Kernel):
    k = traced
    k.ok(
        '%%tool\ndef getOrderStatus(order_id: str) -> dict:\n    """Where an order is."""\n'
        '    return {"status": "delivered"}',
        "c-tool-def",
    )
    k.ok('%tool call getOrderStatus \'{"order_id": "1234"}\'', "c-tool-call")
    k.ok('%memory add "Refund issued for order 1234" -n support/refunds', "c-memory")
    run = k.value("get_ipython()._agentcore_session.run_id")
    session = k.value("get_ipython()._agentcore_session.session_id")
    spans, events = k.value(SPANS), k.value(EVENTS)
    assert all(e["run"] for e in events)  # nothing in the log without a run

    call_node = node_of(k, "c-tool-call")
    call_span = cell_span(spans, call_node)
    (action,) = [e for e in events if e["type"] == "ActionEvent" and e["node"] == call_node]
    check_event_ids(action, run, call_node, session, call_span)
    tool_spans = [s for s in descendants(spans, call_span) if s["name"].startswith("execute_tool")]
    assert [s["name"] for s in tool_spans] == ["execute_tool getOrderStatus"]
    assert action["span"] == tool_spans[0]["id"]  # the event names the tool's own span

    mem_node = node_of(k, "c-memory")
    (update,) = [e for e in events if e["type"] == "MemoryUpdateEvent" and e["node"] == mem_node]
    check_event_ids(update, run, mem_node, session, cell_span(spans, mem_node))


def test_sandboxed_code_events_and_spans_belong_to_the_cell(traced: Kernel):
    k = traced
    k.ok("%%code --session ids\nprint(6 * 7)", "c-code")
    run = k.value("get_ipython()._agentcore_session.run_id")
    session = k.value("get_ipython()._agentcore_session.session_id")
    node = node_of(k, "c-code")
    spans, events = k.value(SPANS), k.value(EVENTS)
    span = cell_span(spans, node)
    (action,) = [e for e in events if e["type"] == "ActionEvent" and e["node"] == node]
    check_event_ids(action, run, node, session, span)
    inner = [s for s in descendants(spans, span) if s["name"].startswith("execute_tool")]
    assert inner and action["span"] == inner[0]["id"]


def test_an_agent_run_from_a_cell_is_a_child_run_under_the_cells_span(traced: Kernel):
    k = traced
    k.ok("%model offline", "c-model")
    k.ok("%%agent helper\nYou answer briefly.", "c-agent-def")
    k.ok('%agent helper "Say hello"', "c-agent-run")
    run = k.value("get_ipython()._agentcore_session.run_id")
    node = node_of(k, "c-agent-run")
    child = k.value("_agent_result.run_id")
    spans, events = k.value(SPANS), k.value(EVENTS)
    (provisioned,) = [e for e in events if e["type"] == "RunProvisioned" and e["run"] == child]
    assert (provisioned["parent_run"], provisioned["parent_node"]) == (run, node)
    span = cell_span(spans, node)
    agent_spans = [s for s in descendants(spans, span) if s["run"] == child]
    assert any(s["name"] == "invoke_workflow helper" for s in agent_spans)
    assert any(s["name"].startswith("invoke_agent") for s in agent_spans)
    invocations = [e for e in events if e["type"] == "AgentInvocationEvent" and e["run"] == child]
    assert invocations and all(e["trace"] == span["trace"] for e in invocations)
