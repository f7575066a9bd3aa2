"""Whole agent runs against the fake OpenAI and Anthropic servers: tools, memory and a sub-agent; the
span tree, the event sequence, summed usage, concurrency of one step's calls; then replay."""

from __future__ import annotations

import json

import pytest

from agentcore_nb.agent import Agent
from agentcore_nb.events import NodeStarted, NodeSucceeded
from tests.models.fakes import Reply

from .conftest import ORDER_CALLS, OVERLAP, Turn, results_text


def support_script(turn: Turn) -> Reply:
    """The fake model: the support agent asks a tool and the billing sub-agent, then answers."""
    if "billing" in turn.system.lower():
        OVERLAP.meet(OVERLAP.billing, OVERLAP.tool, "the getOrderStatus tool")
        refunds = [ln for ln in turn.system.splitlines() if ln.startswith("- Refund")]
        return Reply(
            text=f"{len(refunds)} refunds on file; order 1234 was refunded.", input_tokens=30, output_tokens=9
        )
    if not turn.results:
        return Reply(
            tool_calls=[
                ("getOrderStatus", {"order_id": "1234"}),
                ("billing", {"request": "Any refunds for order 1234?"}),
            ],
            input_tokens=50,
            output_tokens=20,
        )
    return Reply(
        text=f"Order 1234 is delivered. Billing: {results_text(turn)}", input_tokens=90, output_tokens=15
    )


def agents(provider) -> Agent:
    billing = Agent(
        "billing",
        "You are the billing agent: refunds and invoices.",
        model=provider,
        memory_namespace="support/refunds",
    )
    return Agent(
        "support",
        "You are a customer-support agent.",
        model=provider,
        tools=["getOrderStatus"],
        memory_namespace="support/refunds",
        subagents=[billing],
    )


def test_whole_run_span_tree_events_and_usage(make_model, project, spans) -> None:
    model = make_model(support_script)
    OVERLAP.reset(armed=True)  # the tool and the billing sub-agent must be running at once
    result = agents(model.provider).run("Where is my order 1234, and was it refunded?", project=project)
    assert result.ok, result.error
    assert result.answer.startswith("Order 1234 is delivered. Billing: ")
    assert "3 refunds on file" in result.answer and '"status": "delivered"' in result.answer

    # the model saw the tools (gateway tool + sub-agent) and the memory hits
    first = model.turns[0]
    assert set(first.tools) == {"getOrderStatus", "billing"}
    assert "Found 3 related refund events" in first.system and "item arrived damaged" in first.system
    assert len(model.server.requests) == 3

    # token usage summed per run, sub-agent included
    assert (result.usage.input_tokens, result.usage.output_tokens) == (50 + 30 + 90, 20 + 9 + 15)

    # span tree
    finished = spans[1].get_finished_spans()
    by_id = {s.context.span_id: s for s in finished}

    def parent_name(s):  # type: ignore[no-untyped-def]
        return by_id[s.parent.span_id].name if s.parent else None

    tree = sorted((s.name, parent_name(s)) for s in finished)
    model_name = model.provider.model
    assert tree == sorted(
        [
            ("invoke_workflow support", None),
            ("invoke_agent support", "invoke_workflow support"),
            ("search_memory recall", "invoke_agent support"),
            (f"chat {model_name}", "invoke_agent support"),
            ("execute_tool step-1-1-getOrderStatus", "invoke_agent support"),
            ("execute_tool getOrderStatus", "execute_tool step-1-1-getOrderStatus"),
            ("invoke_agent billing", "invoke_agent support"),
            ("search_memory recall", "invoke_agent billing"),
            (f"chat {model_name}", "invoke_agent billing"),
            ("update_memory remember", "invoke_agent billing"),
            (f"chat {model_name}", "invoke_agent support"),
            ("update_memory remember", "invoke_agent support"),
        ]
    )
    agent_span = next(s for s in finished if s.name == "invoke_agent support")
    assert agent_span.attributes["gen_ai.agent.name"] == "support"
    assert agent_span.attributes["gen_ai.usage.input_tokens"] == 170
    assert agent_span.attributes["agentcore.model.kind"] == "llm"
    recall = next(e for e in agent_span.events if e.name == "memory.retrieve")
    assert recall.attributes["result_summary"] == "Found 3 related refund events"
    chats = [s for s in finished if s.name.startswith("chat") and parent_name(s) == "invoke_agent support"]
    assert all(s.attributes["gen_ai.provider.name"] == model.fmt for s in chats)
    assert sorted(s.attributes["gen_ai.usage.output_tokens"] for s in chats) == [15, 20]

    # the event sequence (the two calls of step 1 run concurrently, so their events interleave)
    seq = [
        (e.type, e.node_id, getattr(e, "status", "") or getattr(e, "op", ""))
        for e in result.events
        if e.type in ("AgentInvocationEvent", "ActionEvent", "MemoryUpdateEvent")
    ]
    assert seq[0] == ("AgentInvocationEvent", "support", "started")
    assert seq[-1] == ("AgentInvocationEvent", "support", "succeeded")
    middle = seq[1:-1]
    assert sorted(middle) == sorted(
        [
            ("AgentInvocationEvent", "support/step-1-2-billing", "started"),
            ("MemoryUpdateEvent", "support/step-1-2-billing/remember", "add"),  # the node that wrote it
            ("AgentInvocationEvent", "support/step-1-2-billing", "succeeded"),
            ("ActionEvent", "support/step-1-1-getOrderStatus", "succeeded"),
            ("MemoryUpdateEvent", "support/remember", "add"),
        ]
    )
    assert middle.index(("AgentInvocationEvent", "support/step-1-2-billing", "started")) < middle.index(
        ("AgentInvocationEvent", "support/step-1-2-billing", "succeeded")
    )
    memory_writes = [e for e in result.events if e.type == "MemoryUpdateEvent"]
    assert [e.namespace for e in memory_writes] == ["agents/billing", "agents/support"]
    assert memory_writes[-1].record["text"].startswith("Q: Where is my order 1234")
    action = next(e for e in result.events if e.type == "ActionEvent")
    assert action.action == "tool:getOrderStatus" and action.input == {"order_id": "1234"}

    # the tool and the sub-agent of step 1 overlapped in time (each waited for the other to begin)
    def window(node_id: str) -> tuple[float, float]:
        start = next(e.ts for e in result.events if isinstance(e, NodeStarted) and e.node_id == node_id)
        end = next(e.ts for e in result.events if isinstance(e, NodeSucceeded) and e.node_id == node_id)
        return start, end

    tool_start, tool_end = window("support/step-1-1-getOrderStatus")
    sub_start, sub_end = window("support/step-1-2-billing")
    assert sub_start < tool_end and tool_start < sub_end

    # the compact trace shows the same tree
    trace = result.trace()
    assert "invoke_agent support" in trace and "      chat " + model_name in trace
    assert "execute_tool getOrderStatus" in trace


def test_replay_reproduces_the_answer_with_no_provider_reachable(make_model, project) -> None:
    model = make_model(support_script)
    recorded = agents(model.provider).run("Where is my order 1234, and was it refunded?", project=project)
    assert recorded.ok, recorded.error
    model.server.close()  # nothing is listening any more
    calls_before = ORDER_CALLS.count

    again = agents(model.provider).run(
        "Where is my order 1234, and was it refunded?", project=project, replay=recorded.run_id
    )
    assert again.ok, again.error
    assert again.answer == recorded.answer
    assert again.usage == recorded.usage
    assert ORDER_CALLS.count == calls_before + 1  # tools ran live and matched the recording

    fully = agents(model.provider).run(
        "Where is my order 1234, and was it refunded?",
        project=project,
        replay=recorded.run_id[:8],
        replay_tools=True,
    )
    assert fully.ok, fully.error
    assert fully.answer == recorded.answer
    assert ORDER_CALLS.count == calls_before + 1  # nothing was called this time
    assert "(replayed)" in fully.trace()
    # a replay writes no memory
    assert not [e for e in fully.events if e.type == "MemoryUpdateEvent"]


def test_replay_reports_a_divergence_with_the_step(
    make_model, project, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = make_model(support_script)
    recorded = agents(model.provider).run("Where is my order 1234?", project=project)
    assert recorded.ok, recorded.error
    from tests.agent import conftest

    monkeypatch.setitem(conftest.ORDER_STATUS, "status", "lost")  # the tool now answers differently
    diverged = agents(model.provider).run("Where is my order 1234?", project=project, replay=recorded.run_id)
    assert not diverged.ok
    assert (
        f"replay of run {recorded.run_id[:12]} diverged at step 1 (support/step-1-1-getOrderStatus)"
        in diverged.error
    )
    assert '"status": "lost"' in diverged.error

    no_tool = agents(model.provider)
    no_tool.tools = []
    missing = no_tool.run(
        "Where is my order 1234?", project=project, replay=recorded.run_id, replay_tools=True
    )
    assert (
        "diverged at step 1 (support/step-1): the recorded response calls tool 'getOrderStatus'"
        in missing.error
    )


def test_streaming_sends_answer_text_as_it_arrives(make_model, project) -> None:
    model = make_model(support_script)
    got: list[tuple[str, str]] = []
    result = agents(model.provider).run(
        "Where is my order 1234?", project=project, stream=lambda node, text: got.append((node, text))
    )
    assert result.ok, result.error
    top = "".join(t for n, t in got if n == "support/step-2")
    assert top == result.answer
    assert len([1 for n, _ in got if n == "support/step-2"]) > 3  # word by word
    assert any(n == "support/step-1-2-billing/step-1" for n, _ in got)
    assert all(b.get("stream") for b in model.server.requests)


def test_agent_as_a_graph_node_from_its_json_form(
    make_model, project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exported form: an ``agent`` node whose config is plain JSON (model by name + base URL)."""
    from agentcore_nb import Graph

    model = make_model(support_script)
    if model.fmt == "openai":
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
        spec = "openai:gpt-test"
    else:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-env")
        spec = "anthropic:claude-test"
    definition = agents(model.provider).to_config()
    assert definition["model"] == spec and definition["base_url"] == model.server.base_url
    json.dumps(definition)  # plain JSON
    g = Graph("exported")
    g.node("support", kind="agent", config={"agent": definition}, inputs={"request": "$input.prompt"})
    result = project.runtime().run(g, {"prompt": "Where is my order 1234?"})
    assert result.ok, result.errors
    assert result.output["support"]["answer"].startswith("Order 1234 is delivered.")
    assert (
        model.server.headers[0]
        .get("authorization", model.server.headers[0].get("x-api-key", ""))
        .endswith("sk-env")
    )
