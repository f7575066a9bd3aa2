"""Span tree shape and GenAI attributes, captured with the SDK's in-memory exporter."""

from __future__ import annotations

import time

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from agentcore_nb import Graph, Node, NodeContext, Runtime


@pytest.fixture
def traced() -> tuple[Runtime, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    rt = Runtime(tracer_provider=provider)
    yield rt, exporter
    rt.close()


def test_run_and_node_spans_form_a_tree(traced: tuple[Runtime, InMemorySpanExporter]) -> None:
    rt, exporter = traced

    def agent(ctx: NodeContext) -> int:
        tracer = ctx.tracer
        with tracer.start_as_current_span("inner work"):  # bodies run with their node span current
            pass
        return ctx.run_node(Node("lookup", config={"callable": lambda: 41})) + 1

    g = Graph("support")
    g.node("fetch", lambda: time.sleep(0.01) or 1)
    g.node("agent", agent, after=["fetch"])
    g.node("bad", lambda: 1 / 0)
    result = rt.run(g, session_id="session-7")
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {
        "invoke_workflow support",
        "execute_node fetch",
        "execute_node agent",
        "execute_node bad",
        "execute_node lookup",
        "inner work",
    }
    root = spans["invoke_workflow support"]
    assert root.parent is None
    assert root.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert root.attributes["gen_ai.conversation.id"] == "session-7"
    assert root.status.status_code == StatusCode.ERROR
    for name in ("execute_node fetch", "execute_node agent", "execute_node bad"):
        span = spans[name]
        assert span.parent.span_id == root.context.span_id
        assert span.context.trace_id == root.context.trace_id
        assert span.attributes["gen_ai.operation.name"] == "execute_node"
        assert span.attributes["agentcore.run.id"] == result.run_id
    assert spans["execute_node lookup"].parent.span_id == spans["execute_node agent"].context.span_id
    assert spans["inner work"].parent.span_id == spans["execute_node agent"].context.span_id
    assert spans["execute_node bad"].status.status_code == StatusCode.ERROR
    assert spans["execute_node bad"].attributes["error.type"] == "ZeroDivisionError"
    # events carry the ids of the spans they happened in
    trace_hex = format(root.context.trace_id, "032x")
    events = rt.log.events(result.run_id)
    assert {e.trace_id for e in events} == {trace_hex}
    started = next(e for e in events if e.type == "NodeStarted" and e.node_id == "fetch")
    assert started.span_id == format(spans["execute_node fetch"].context.span_id, "016x")


def test_retries_are_span_events_on_one_node_span(traced: tuple[Runtime, InMemorySpanExporter]) -> None:
    rt, exporter = traced
    calls = []
    g = Graph("r")
    g.node("flaky", lambda: calls.append(1) or (1 / 0 if len(calls) < 2 else "ok"), retries=2)
    g.nodes["flaky"].policy.backoff.initial = 0.01
    rt.run(g)
    span = next(s for s in exporter.get_finished_spans() if s.name == "execute_node flaky")
    assert [e.name for e in span.events] == ["retry"]
    assert span.status.status_code != StatusCode.ERROR


def test_no_sdk_configured_still_runs_with_ids() -> None:
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)  # we never set a global provider
    with Runtime() as rt:
        g = Graph("plain")
        g.node("a", lambda: 1)
        result = rt.run(g)
        assert result.ok
        events = rt.log.events(result.run_id)
        assert all(len(e.trace_id) == 32 and len(e.span_id) == 16 for e in events)
