"""The one seam for events, open (live) runs, and closing runs a dead process left open."""

from __future__ import annotations

import contextvars
import subprocess
import sys

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentcore_nb.eventlog.duckdb import DuckDBEventLog
from agentcore_nb.eventlog.memory import InMemoryEventLog
from agentcore_nb.events import ActionEvent, NodeStarted
from agentcore_nb.graph.policy import Policy
from agentcore_nb.graph.spec import Graph, Node
from agentcore_nb.runtime.emitting import current_node, emit
from agentcore_nb.runtime.live import LiveRun, close_interrupted
from agentcore_nb.runtime.runtime import Runtime


def traced_runtime(log: InMemoryEventLog) -> tuple[Runtime, InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    return Runtime(log, tracer_provider=provider), spans


def component_call(x: int) -> int:
    """What a component does inside a node: record an action, knowing nothing of the run."""
    component_log = LOGS[-1]
    emit(ActionEvent(action="tool:double", input=x, output=x * 2), log=component_log)
    return x * 2


LOGS: list[InMemoryEventLog] = []


def test_a_component_event_inside_a_node_gets_the_nodes_ids():
    log = InMemoryEventLog()
    LOGS.append(log)
    rt, spans = traced_runtime(log)
    g = Graph("g")
    g.node("double", component_call, inputs={"x": "$input"})
    result = rt.run(g, 21, session_id="s1")
    assert result.output == {"double": 42}
    (action,) = [e for e in log.events() if e.type == "ActionEvent"]
    (node_span,) = [s for s in spans.get_finished_spans() if s.name == "execute_node double"]
    assert (action.run_id, action.node_id, action.session_id) == (result.run_id, "double", "s1")
    assert action.trace_id == format(node_span.context.trace_id, "032x")
    assert action.span_id == format(node_span.context.span_id, "016x")
    assert current_node() is None  # nothing is left current after the run


def test_outside_any_run_events_go_to_the_ad_hoc_run_which_the_log_closes(tmp_path):
    log = DuckDBEventLog(tmp_path / "a.duckdb")
    first = emit(ActionEvent(action="tool:x"), log=log)
    second = emit(ActionEvent(action="tool:y", session_id="mine"), log=log)
    assert first.run_id and first.run_id == second.run_id and second.session_id == "mine"
    log.close()
    with DuckDBEventLog(tmp_path / "a.duckdb") as again:
        (run,) = again.runs()
        types = [e.type for e in again.events(run.run_id)]
    assert run.kind == "adhoc" and run.status == "succeeded"
    assert types == ["RunProvisioned", "ActionEvent", "ActionEvent", "RunExecuted", "RunVanished"]
    with pytest.raises(ValueError, match="a log must be given"):
        emit(ActionEvent(action="nowhere"))


def test_a_live_run_runs_nodes_on_the_callers_thread_with_their_policy():
    log = InMemoryEventLog()
    rt, spans = traced_runtime(log)
    live = LiveRun(rt, "nb", session_id="sess")
    flaky = live.node(Node("flaky", policy=Policy(retries=1, fallback="spare")))
    flaky.start()
    assert current_node() is flaky.ctx  # the body would run here, with the node current
    emit(ActionEvent(action="inside"), log=log)
    outcome = flaky.failed(RuntimeError("first"))
    assert outcome.action == "retry" and outcome.delay >= 0 and current_node() is None
    flaky.start()
    outcome = flaky.failed(RuntimeError("second"))
    assert (outcome.action, outcome.fallback) == ("fallback", "spare")
    spare = live.node(Node("spare"))
    spare.start()
    spare.succeeded("ok")
    flaky.succeeded_via("spare", "ok")
    live.close()
    events = log.events(live.run_id)
    assert all(e.run_id == live.run_id and e.session_id == "sess" for e in events)
    assert [(e.type, e.node_id) for e in events if e.node_id] == [
        ("NodeStarted", "flaky"),
        ("ActionEvent", "flaky"),
        ("NodeFailed", "flaky"),
        ("NodeRetried", "flaky"),
        ("NodeStarted", "flaky"),
        ("NodeFailed", "flaky"),
        ("NodeRerouted", "flaky"),
        ("NodeStarted", "spare"),
        ("NodeSucceeded", "spare"),
        ("NodeSucceeded", "flaky"),
    ]
    assert events[0].kind == "notebook"  # type: ignore[attr-defined]
    assert events[-2].type == "RunExecuted" and events[-1].type == "RunVanished"
    names = {s.name for s in spans.get_finished_spans()}
    assert {"invoke_workflow nb", "execute_node flaky", "execute_node spare"} <= names


def test_a_run_started_inside_a_node_is_its_child():
    log = InMemoryEventLog()
    rt, spans = traced_runtime(log)
    live = LiveRun(rt, "nb")
    cell = live.node(Node("cell"))
    cell.start()
    child = rt.run(Graph("inner", [Node("leaf", config={"code": "1 + 1"})]))
    cell.succeeded()
    provisioned = [e for e in log.events(child.run_id) if e.type == "RunProvisioned"][0]
    assert (provisioned.parent_run_id, provisioned.parent_node_id) == (live.run_id, "cell")  # type: ignore[attr-defined]
    by_name = {s.name: s for s in spans.get_finished_spans()}
    assert by_name["invoke_workflow inner"].parent.span_id == by_name["execute_node cell"].context.span_id


def test_runs_a_dead_process_left_open_are_closed_with_their_running_node(tmp_path):
    log = DuckDBEventLog(tmp_path / "b.duckdb")
    rt = Runtime(log)

    def doomed_process() -> LiveRun:
        live = LiveRun(rt, "nb", session_id="old")
        done = live.node(Node("done"))
        done.start()
        done.succeeded()
        hung = live.node(Node("hung"))
        hung.start()  # stays current in this (copied) context only
        log.flush()  # the process "dies" here: nothing closes the run
        return live

    live = contextvars.copy_context().run(doomed_process)
    assert current_node() is None
    closed = close_interrupted(log, "notebook")
    assert closed == [live.run_id]
    events = log.events(live.run_id)
    (failed,) = [e for e in events if e.type == "NodeFailed"]
    assert failed.node_id == "hung" and failed.error_type == "Interrupted" and failed.final  # type: ignore[attr-defined]
    assert [r.status for r in log.runs() if r.run_id == live.run_id] == ["cancelled"]
    assert close_interrupted(log, "notebook") == []  # once
    log.close()


def test_component_run_hooks_are_wired_by_the_project_whatever_was_imported(tmp_path):
    code = (
        "import sys; from agentcore_nb.project import Project\n"
        f"p = Project({str(tmp_path)!r})\n"
        "assert 'agentcore_nb.memory' not in sys.modules\n"
        "print(sorted(h.name for h in p.runtime().hooks)); p.close()"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['identity', 'memory']"


def test_node_started_events_fill_ids_through_the_seam():
    log = InMemoryEventLog()
    live = LiveRun(Runtime(log), "nb")
    node = live.node(Node("n"))
    node.start()
    started = [e for e in log.events() if isinstance(e, NodeStarted)][0]
    assert started.run_id == live.run_id and started.node_id == "n" and started.trace_id
    node.succeeded()
