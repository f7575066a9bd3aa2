"""Memory inside runs (the ``memory`` node kind, spans, events, the fetch-context step), the
short-term session cache, and the background strategies."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentcore_nb import Graph, Node
from agentcore_nb.events import ContextFetched, MemoryUpdateEvent
from agentcore_nb.memory import MemoryStoreError, SessionCache
from agentcore_nb.project import Project


@pytest.fixture
def traced_project(agentcore_home):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    project = Project(agentcore_home)
    runtime = project.runtime(tracer_provider=provider)
    yield project, runtime, exporter
    project.close()


def test_memory_nodes_write_and_search_with_spans_and_events(traced_project):
    project, runtime, exporter = traced_project
    g = Graph("remember")
    g.add_node(Node("note", kind="memory", inputs={"text": "$input.note"},
               config={"op": "add", "namespace": "support/refunds"}))  # fmt: skip
    g.add_node(Node("recall", kind="memory", inputs={"query": "$input.question"}, after=["note"],
               config={"op": "search", "namespace": "support/", "k": 2}))  # fmt: skip
    result = runtime.run(g, {"note": "Refund issued for order 1234", "question": "refund 1234"})
    assert result.ok, result.errors
    assert result.outputs["recall"][0]["text"] == "Refund issued for order 1234"
    names = {s.name: s for s in exporter.get_finished_spans()}
    assert "update_memory note" in names and "search_memory recall" in names
    assert names["search_memory recall"].attributes["gen_ai.operation.name"] == "search_memory"
    updates = [e for e in runtime.log.events(result.run_id) if isinstance(e, MemoryUpdateEvent)]
    assert [(e.op, e.namespace) for e in updates] == [("add", "support/refunds")]


def test_a_bad_memory_node_fails_alone(traced_project):
    _, runtime, _ = traced_project
    g = Graph("partial")
    g.add_node(Node("empty", kind="memory", config={"op": "add", "text": "  "}))
    g.node("other", lambda: "still ran")
    result = runtime.run(g)
    assert result.outputs["other"] == "still ran"
    assert "memory text is empty" in result.errors["empty"]


def test_fetch_context_reads_the_session_cache(traced_project):
    project, runtime, _ = traced_project
    project.services["memory"].session("s-1").add("user", "my order 1234 is late")
    g = Graph("ctx")
    g.node("look", lambda ctx: ctx.run.context.get("memory"), inputs={})
    result = runtime.run(g, session_id="s-1")
    assert result.outputs["look"]["recent"][0]["text"] == "my order 1234 is late"
    fetched = [e for e in runtime.log.events(result.run_id) if isinstance(e, ContextFetched)]
    assert "memory" in fetched[0].context


def test_session_cache_is_bounded_by_items_and_tokens():
    cache = SessionCache("s", max_items=3, max_tokens=1000)
    for i in range(5):
        cache.add("user", f"turn {i}")
    assert [t.text for t in cache.recent()] == ["turn 2", "turn 3", "turn 4"]
    small = SessionCache("t", max_items=100, max_tokens=20)
    for i in range(10):
        small.add("user", "one two three four five six")
    assert small.tokens <= 20 and len(small) == 2
    with pytest.raises(MemoryStoreError):
        small.add("user", "")


def test_strategies_run_in_the_background(traced_project):
    project, _, _ = traced_project
    memory = project.services["memory"]
    cache = memory.session("s-2")
    cache.add("user", "I prefer email over phone calls")
    cache.add("assistant", "Noted.")
    memory.after_turn("s-2", namespace="prefs", strategies=("semantic", "summary", "preference"))
    memory.flush()
    assert [h.record.text for h in memory.search("email", namespace="prefs")] == [
        "I prefer email over phone calls"
    ]
    notes = memory.strategies.notes
    assert notes["semantic"] == "stored 1 facts"
    assert notes["summary"].startswith("skipped") and notes["preference"].startswith("skipped")
    with pytest.raises(MemoryStoreError, match="unknown memory strategy 'gossip'"):
        memory.after_turn("s-2", strategies=("gossip",))
