"""The project's light spans (``observability/lightspan.py``): what the span store and its readers
see is what the OpenTelemetry SDK path gave (the same span program on both, rows compared), and
the API behaviours the code base relies on (context, propagation, status, exceptions, open spans,
flush) hold."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from agentcore_nb.db import Database
from agentcore_nb.observability import conventions as conv
from agentcore_nb.observability.lightspan import LightSpan, LightTracerProvider
from agentcore_nb.observability.store import SpanRecord, SpanStore, StoreSpanProcessor
from agentcore_nb.observability.tracing import ProjectTracing
from agentcore_nb.project import Project


class Thing:
    def __str__(self) -> str:
        return "a thing"


@pytest.fixture
def light(tmp_path: Path) -> Iterator[tuple[trace.Tracer, StoreSpanProcessor]]:
    db = Database.open(tmp_path / "light.duckdb")
    processor = StoreSpanProcessor(SpanStore(db))
    try:
        yield LightTracerProvider(processor).get_tracer("test"), processor
    finally:
        processor.shutdown()
        db.close()


def _program(tracer: trace.Tracer, run_id: str) -> None:
    """Spans as the code base makes them: a root with a run id, children through the context,
    attributes of every kind, events, status rules, a renamed span, an exception."""
    with tracer.start_as_current_span("invoke_workflow g", attributes=conv.run_attributes("g", run_id, "s")):
        node = tracer.start_span("execute_node a", attributes={conv.NODE_NAME: "a", "tags": ["x", "y"]})
        with trace.use_span(node, end_on_exit=True):
            node.set_attribute("n", 3)
            node.set_attribute("nested", {"k": [1, 2], "": "dropped key", 5: "int key"})
            node.set_attribute("thing", Thing())
            node.set_attribute("", "no key")
            node.set_attributes({"f": 0.5, "ok": True, "none": None, "scopes": ["r", "w"], "t": (1, [2])})
            node.add_event(conv.RETRY_EVENT, {conv.ATTEMPT: 2, "why": ("a", "b")}, timestamp=123)
            node.update_name("execute_node a2")
            node.set_status(StatusCode.OK, "ignored: only errors keep a description")
            node.set_status(StatusCode.ERROR, "too late: OK is final")
            with tracer.start_as_current_span("execute_tool t", kind=SpanKind.CLIENT) as tool:
                tool.set_status(Status(StatusCode.UNSET))  # ignored
        with pytest.raises(ValueError), tracer.start_as_current_span("execute_node b"):
            raise ValueError("boom")
        with pytest.raises(KeyError), tracer.start_span("execute_node d"):  # the span as a context manager
            raise KeyError("k")
        failed = tracer.start_span("execute_node c")
        failed.set_status(StatusCode.ERROR, "card declined")
        failed.end()
        failed.end()  # a second end is ignored (one row)
        failed.set_attribute("late", 1)  # after the end: ignored


def _shape(records: list[SpanRecord]) -> list[dict[str, Any]]:
    """The records without ids and times, parents as names, exception stacktraces as a flag."""
    names = {r.span_id: r.name for r in records}
    out = []
    for r in sorted(records, key=lambda r: r.name):
        events = []
        for e in r.events:
            attrs = dict(e["attributes"])
            if "exception.stacktrace" in attrs:
                attrs["exception.stacktrace"] = "Traceback" in attrs["exception.stacktrace"]
            events.append({"name": e["name"], "attributes": attrs, "time_ns": e["time_ns"] == 123})
        out.append(
            {
                "name": r.name,
                "parent": names.get(r.parent_id, ""),
                "run": r.run_id,
                "status": r.status,
                "message": r.status_message,
                "attributes": r.attributes,
                "events": events,
                "ended": r.end_ns is not None and r.end_ns >= r.start_ns > 0,
            }  # fmt: skip
        )
    return out


def _stored(tmp_path: Path, provider_of: Any, name: str) -> list[SpanRecord]:
    db = Database.open(tmp_path / f"{name}.duckdb")
    store = SpanStore(db)
    processor = StoreSpanProcessor(store)
    try:
        _program(provider_of(processor).get_tracer("test"), "run-1")
        assert processor.force_flush(30_000)
        assert processor.error == ""
        return store.spans("run-1")
    finally:
        processor.shutdown()
        db.close()


def _sdk(processor: StoreSpanProcessor) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider


def test_the_store_gets_what_the_sdk_path_gave(tmp_path: Path) -> None:
    sdk = _stored(tmp_path, _sdk, "sdk")
    light = _stored(tmp_path, LightTracerProvider, "light")
    assert len(light) == 6 and len({r.trace_id for r in light}) == 1
    assert _shape(light) == _shape(sdk)
    node = next(r for r in light if r.name == "execute_node a2")
    assert node.attributes["tags"] == ["x", "y"] and node.attributes["thing"] == "a thing"
    assert node.attributes["nested"] == {"k": [1, 2], "5": "int key"} and "" not in node.attributes
    assert node.status == "ok" and node.status_message == ""
    boom = next(r for r in light if r.name == "execute_node b")
    assert (boom.status, boom.status_message) == ("error", "ValueError: boom")
    assert boom.events[0]["attributes"]["exception.type"] == "ValueError"
    assert next(r for r in light if r.name == "execute_node c").status_message == "card declined"
    keyed = next(r for r in light if r.name == "execute_node d")
    assert keyed.status == "error" and keyed.events[0]["attributes"]["exception.escaped"] == "True"


def test_ids_parents_and_the_api_surface(light: tuple[trace.Tracer, StoreSpanProcessor]) -> None:
    tracer, _ = light
    with tracer.start_as_current_span("root") as root:
        assert isinstance(root, LightSpan) and trace.get_current_span() is root
        child = tracer.start_span("child")
        sc, rc = child.get_span_context(), root.get_span_context()
        assert sc.trace_id == rc.trace_id and sc.span_id != rc.span_id and sc.is_valid
        assert 0 < rc.trace_id < 2**128 and 0 < sc.span_id < 2**64 and sc.trace_flags.sampled
        assert child.is_recording()
        child.end()
        assert not child.is_recording()
    other = tracer.start_span("another root", context=otel_context.Context())
    assert other.get_span_context().trace_id != rc.trace_id
    other.end()


def test_context_propagation_and_remote_parents(light: tuple[trace.Tracer, StoreSpanProcessor]) -> None:
    tracer, processor = light
    prop = TraceContextTextMapPropagator()
    sender = tracer.start_span("send t", attributes={conv.RUN_ID: "run-9"})
    carrier: dict[str, str] = {}
    prop.inject(carrier, context=trace.set_span_in_context(sender))
    sc = sender.get_span_context()
    assert carrier["traceparent"].split("-")[1:3] == [f"{sc.trace_id:032x}", f"{sc.span_id:016x}"]
    remote = tracer.start_span("process t", context=prop.extract(carrier))  # in process: same run
    assert remote.get_span_context().trace_id == sc.trace_id
    assert isinstance(remote, LightSpan) and remote.record().parent_id == f"{sc.span_id:016x}"
    assert remote.record().run_id == "run-9"
    unsampled = prop.extract({"traceparent": f"00-{sc.trace_id:032x}-{sc.span_id:016x}-00"})
    dropped = tracer.start_span("not sampled", context=unsampled)
    assert not dropped.is_recording() and not isinstance(dropped, LightSpan)  # as the SDK's sampler
    for span in (remote, sender):
        span.end()
    assert processor.force_flush(30_000)


def test_open_spans_are_listed_until_they_end(light: tuple[trace.Tracer, StoreSpanProcessor]) -> None:
    tracer, processor = light
    root = tracer.start_span("invoke_workflow g", attributes={conv.RUN_ID: "live"})
    with trace.use_span(root):
        step = tracer.start_span("execute_node a", attributes={"tags": ("a",)})
    running = {r.name: r for r in processor.open_spans()}
    assert set(running) == {"invoke_workflow g", "execute_node a"}
    rec = running["execute_node a"]
    assert (rec.status, rec.end_ns, rec.run_id, rec.attributes["tags"]) == ("running", None, "live", ["a"])
    assert processor.open_spans([rec.trace_id]) and processor.open_spans(["0" * 32]) == []
    step.end()
    assert [r.name for r in processor.open_spans()] == ["invoke_workflow g"]
    root.end()
    assert processor.open_spans() == []
    assert processor.force_flush(30_000)
    assert sorted(r.name for r in processor.store.spans("live")) == ["execute_node a", "invoke_workflow g"]


def test_a_run_id_set_after_the_start_still_names_the_run(
    light: tuple[trace.Tracer, StoreSpanProcessor],
) -> None:
    tracer, processor = light
    span = tracer.start_span("invoke_workflow late")
    span.set_attribute(conv.RUN_ID, "late-run")
    span.end()
    assert processor.force_flush(30_000)
    assert [r.name for r in processor.store.spans("late-run")] == ["invoke_workflow late"]


def test_project_tracing_uses_light_spans_unless_otlp_is_asked(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    db = Database.open(tmp_path / "p.duckdb")
    tracing = ProjectTracing(db)
    try:
        assert isinstance(tracing.provider, LightTracerProvider) and tracing.otlp is None
        span = tracing.switching.get_tracer("t").start_span("x", attributes={conv.RUN_ID: "r"})
        assert isinstance(span, LightSpan)
        span.end()
        assert tracing.flush() and [r.name for r in tracing.store.spans("r")] == ["x"]
    finally:
        tracing.close()
        db.close()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    db = Database.open(tmp_path / "q.duckdb")
    tracing = ProjectTracing(db)
    try:
        assert isinstance(tracing.provider, TracerProvider) and tracing.otlp is not None
    finally:
        tracing.close()
        db.close()


def test_a_graph_run_is_stored_with_light_spans(agentcore_home: Path) -> None:
    from agentcore_nb import Graph

    g = Graph("light")
    g.node("a", lambda: 1)
    g.node("b", lambda a: a + 1, inputs=["a"])
    with Project(agentcore_home) as project:
        result = project.runtime().run(g)
        assert result.ok and project.tracing.flush()
        records = project.tracing.store.spans(result.run_id)
    by_name = {r.name: r for r in records}
    assert sorted(by_name) == ["execute_node a", "execute_node b", "invoke_workflow light"]
    root = by_name["invoke_workflow light"]
    assert all(r.parent_id == root.span_id for r in records if r is not root)
    assert {r.run_id for r in records} == {result.run_id}
