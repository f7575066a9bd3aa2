"""The ``code`` node kind: sandboxed code as a graph step, on the real runtime."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentcore_nb import Graph, InMemoryEventLog, Runtime
from agentcore_nb.errors import GraphError
from agentcore_nb.interpreter import Interpreter


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    interp = Interpreter(tmp_path_factory.mktemp("exec"))
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    rt = Runtime(InMemoryEventLog(), services={"interpreter": interp}, tracer_provider=provider)
    yield rt, exporter, interp
    rt.close()
    interp.close()


def test_code_nodes_run_sandboxed_with_inputs_and_share_their_session(setup):
    rt, exporter, interp = setup
    g = Graph("analysis", output="summarize")
    g.node(
        "load", kind="code", inputs={"values": "$input.values"}, config={"code": "total = sum(values)\ntotal"}
    )
    g.node("summarize", kind="code", after=["load"], config={"code": "print('total is', total)\ntotal * 2"})
    g.node("js", kind="code", inputs={"n": "$input.n"}, config={"language": "js", "code": "n * 3"})
    g.node("r", kind="code", inputs={"n": "$input.n"}, config={"language": "r", "code": "n + 0.5"})
    result = rt.run(g, {"values": [1, 2, 3], "n": 7}, session_id="graph-session")
    assert result.ok, result.errors
    out = result.outputs
    assert out["load"]["results"][0]["data"]["text/plain"] == "6"
    assert out["summarize"]["stdout"] == "total is 6\n"  # the variable from 'load' is still there
    assert out["summarize"]["results"][0]["data"]["text/plain"] == "12"
    assert out["js"]["results"][0]["data"]["text/plain"] == "21"
    assert "7.5" in out["r"]["stdout"]
    assert "run-graph-session" in interp.sessions()
    actions = [e for e in rt.log.events(result.run_id) if e.type == "ActionEvent"]
    assert sorted(e.node_id for e in actions) == ["js", "load", "r", "summarize"]
    assert all(e.action == "executeCode" and e.status == "succeeded" for e in actions)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    span = spans["execute_tool load"]
    assert span.attributes["gen_ai.operation.name"] == "execute_tool"
    assert span.attributes["gen_ai.tool.name"] == "code_interpreter"
    assert span.attributes["agentcore.node.kind"] == "code"
    load_event = next(e for e in actions if e.node_id == "load")
    assert load_event.span_id == format(span.context.span_id, "016x")


def test_a_failing_code_node_fails_with_one_line_and_the_rest_runs(setup):
    rt, _, _ = setup
    g = Graph("failing")
    g.node("bad", kind="code", config={"code": "1 / 0"})
    g.node("slow", kind="code", config={"code": "import time\ntime.sleep(30)", "timeout": 0.5})
    g.node("fine", kind="code", config={"code": "'ok'"})
    result = rt.run(g)
    assert not result.ok
    assert result.errors["bad"] == "python: ZeroDivisionError: division by zero"
    # One line naming the limit. On a busy machine the interpreter may miss the 1 s grace after the
    # interrupt and be killed: the line then goes on to say its variables are lost (both are true).
    slow = result.errors["slow"]
    assert slow.startswith("python: TimeoutError: wall-clock limit of 0.5 s exceeded"), slow
    assert "\n" not in slow
    assert slow == "python: TimeoutError: wall-clock limit of 0.5 s exceeded" or slow.endswith(
        "the python process ended (SIGKILL); the session's variables in it are lost"
    ), slow
    assert result.outputs["fine"]["results"][0]["data"]["text/plain"] == "'ok'"


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({}, "needs config.code"),
        ({"code": "1", "language": "cobol"}, "config.language 'cobol'"),
        ({"code": "1", "timeout": -1}, "config.timeout must be a positive"),
        ({"code": "1", "session": "a b"}, "config.session 'a b'"),
        ({"code": "1", "allow_net": ["nope"]}, "must look like HOST:PORT"),
    ],
)
def test_invalid_code_nodes_are_rejected_before_running(config, problem):
    import agentcore_nb.interpreter.executor  # noqa: F401  (installs the validator)

    g = Graph("invalid")
    g.node("c", kind="code", config=config)
    with pytest.raises(GraphError, match=problem):
        g.validate()
