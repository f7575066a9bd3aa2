"""The ``reason`` node kind: spans (GenAI conventions), recorded output, replay, and no leaked keys."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentcore_nb import Graph, GraphError, Runtime
from agentcore_nb.eventlog.duckdb import DuckDBEventLog
from agentcore_nb.models import ModelError, ModelService, ReplayDivergence, ReplayProvider, Retry
from agentcore_nb.models.openai import OpenAIProvider

from .fakes import FakeOpenAI, Reply, scripted

SECRET = "sk-live-7f3a9c1e5b2d4f6a8c0e"


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_reason_node_runs_the_offline_default_and_labels_it(spans) -> None:
    tp, exporter = spans
    g = Graph("ask")
    g.node("answer", kind="reason", config={"system": "Be terse."}, inputs={"question": "$input"})
    with Runtime(tracer_provider=tp, services={"models": ModelService(None, environ={})}) as rt:
        result = rt.run(g, "What is the weather?")
    assert result.ok, result.errors
    out = result.output["answer"]
    assert out["provider"] == "offline" and "not an LLM" in out["text"]
    (span,) = [s for s in exporter.get_finished_spans() if s.name.startswith("chat")]
    assert span.name == "chat offline-reasoner"
    assert span.attributes["gen_ai.operation.name"] == "chat"
    assert span.attributes["agentcore.model.kind"] == "offline reasoner (not an LLM)"
    assert span.attributes["gen_ai.usage.output_tokens"] > 0


def test_reason_node_prompt_template_and_openai(spans, tmp_path: Path) -> None:
    tp, exporter = spans
    with FakeOpenAI(scripted(Reply(text="Delivered.", input_tokens=21, output_tokens=3))) as server:
        provider = OpenAIProvider("gpt-test", base_url=server.base_url, api_key="k")
        g = Graph("ask")
        g.node(
            "status",
            kind="reason",
            config={"provider": provider, "prompt": "Order {order_id}: status?"},
            inputs={"order_id": "$input.order_id"},
        )
        with Runtime(tracer_provider=tp) as rt:
            result = rt.run(g, {"order_id": "1234"})
    assert result.ok, result.errors
    assert server.requests[0]["messages"] == [{"role": "user", "content": "Order 1234: status?"}]
    (span,) = [s for s in exporter.get_finished_spans() if s.name.startswith("chat")]
    assert span.name == "chat gpt-test"
    assert span.attributes["gen_ai.provider.name"] == "openai"
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        21,
        3,
    )
    assert span.attributes["gen_ai.response.finish_reasons"] == ("end_turn",)


def test_reason_node_config_is_validated() -> None:
    g = Graph("bad")
    g.node("a", kind="reason", config={"model": "gpt:4", "max_tokens": 0, "tools": "getOrderStatus"})
    import agentcore_nb.models.executor  # noqa: F401  (installs the validator)

    with pytest.raises(
        GraphError, match="config.model: unknown model provider 'gpt'.*config.tools.*max_tokens"
    ):
        g.validate()


def test_replay_answers_with_no_provider_reachable(tmp_path: Path) -> None:
    log_path = tmp_path / "log.duckdb"
    with FakeOpenAI(scripted(Reply(text="First answer"), Reply(text="Second answer"))) as server:
        provider = OpenAIProvider("gpt-test", base_url=server.base_url, api_key="k")
        g = Graph("two")
        g.node("a", kind="reason", config={"provider": provider}, inputs={"q": "$input"})
        g.node("b", kind="reason", config={"provider": provider}, inputs={"q": "a.text"})
        with Runtime(DuckDBEventLog(log_path)) as rt:
            recorded = rt.run(g, "hello")
    assert recorded.ok
    # the server is gone; the same graph replays from the log
    with Runtime(DuckDBEventLog(log_path)) as rt:
        replay = ReplayProvider.from_log(rt.log, recorded.run_id[:10])
        rt_run_state = {"models.override": replay}
        g2 = Graph("two")
        g2.node("a", kind="reason", inputs={"q": "$input"})
        g2.node("b", kind="reason", inputs={"q": "a.text"})
        from agentcore_nb.runtime.hooks import RunHook

        class Override(RunHook):
            def provision(self, run):  # type: ignore[no-untyped-def]
                run.state.update(rt_run_state)

        rt.add_hook(Override())
        again = rt.run(g2, "hello")
        assert again.ok, again.errors
        assert again.output["b"]["text"] == "Second answer"
        # asking for a node that was never recorded is a divergence naming it
        g3 = Graph("three")
        g3.node("c", kind="reason", inputs={"q": "$input"})
        failed = rt.run(g3, "x")
    assert "replay of run" in failed.errors["c"] and "diverged at c" in failed.errors["c"]


def test_replay_reports_a_recorded_tool_that_is_not_offered(tmp_path: Path) -> None:
    log_path = tmp_path / "log.duckdb"
    tool = {"name": "getOrderStatus", "description": "d", "inputSchema": {"type": "object"}}
    with FakeOpenAI(scripted(Reply(tool_calls=[("getOrderStatus", {"order_id": "1"})]))) as server:
        provider = OpenAIProvider("gpt-test", base_url=server.base_url, api_key="k")
        g = Graph("g")
        g.node(
            "step-1",
            kind="reason",
            config={"provider": provider},
            inputs={"q": "$input.q", "tools": "$input.tools"},
        )
        with Runtime(DuckDBEventLog(log_path)) as rt:
            run = rt.run(g, {"q": "where", "tools": [tool]})
            assert run.ok, run.errors
            replay = ReplayProvider.from_log(rt.log, run.run_id)
    assert replay.chat("where", [tool], key="step-1").tool_calls[0].name == "getOrderStatus"
    with pytest.raises(
        ReplayDivergence,
        match=r"diverged at step 1 \(step-1\): the recorded response calls tool 'getOrderStatus', which is not offered now",
    ) as err:
        replay.chat("where", [], key="step-1")
    assert err.value.step == 1


def test_replay_of_an_unknown_run_is_one_line(tmp_path: Path) -> None:
    with DuckDBEventLog(tmp_path / "x.duckdb") as log, pytest.raises(ModelError, match="no run"):
        ReplayProvider.from_log(log, "nope")


def test_api_keys_are_never_printed_logged_or_traced(
    spans, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    tp, exporter = spans
    caplog.set_level(logging.DEBUG)
    # a hostile server echoes the key back in its error message
    brain = scripted(Reply(text="fine"), Reply(status=401, error=f"Incorrect API key provided: {SECRET}"))
    with FakeOpenAI(brain) as server:
        provider = OpenAIProvider(
            "gpt-test", base_url=server.base_url, api_key=SECRET, retry=Retry(attempts=1)
        )
        g = Graph("secret")
        g.node("ok", kind="reason", config={"provider": provider}, inputs={"q": "$input"})
        g.node("bad", kind="reason", config={"provider": provider}, inputs={"q": "ok.text"})
        log = DuckDBEventLog(tmp_path / "log.duckdb")
        with Runtime(log, tracer_provider=tp) as rt:
            result = rt.run(g, "hi")
            events = [e.to_json() for e in rt.log.events(result.run_id)]
        with pytest.raises(ModelError) as err:
            provider.chat("again")
        assert server.headers[0]["authorization"] == f"Bearer {SECRET}"  # it was sent, to the server only
    assert "[redacted]" in result.errors["bad"]
    texts = [
        *events,
        *(
            json.dumps(dict(s.attributes or {}), default=str)
            + s.name
            + json.dumps([dict(e.attributes or {}) for e in s.events], default=str)
            for s in exporter.get_finished_spans()
        ),
        caplog.text,
        repr(provider),
        json.dumps(provider.describe()),
        str(err.value),
        json.dumps(
            ModelService(tmp_path, environ={"OPENAI_API_KEY": SECRET, "AGENTCORE_MODEL": "openai:x"}).status()
        ),
        *capsys.readouterr(),
    ]
    leaks = [t[:200] for t in texts if SECRET in t or SECRET[8:] in t]
    assert not leaks
