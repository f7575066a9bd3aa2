"""What goes wrong: failing, unknown and malformed tool calls, bad arguments, runaways, budgets,
timeouts, unreachable providers, bad definitions. Each one is a clear line, fed back to the model
where the model can do something about it."""

from __future__ import annotations

import pytest

from agentcore_nb.agent import Agent, AgentError
from agentcore_nb.events import NodeRetried
from tests.models.fakes import Reply

from .conftest import Turn, results_text


def test_failing_tool_is_retried_then_the_model_is_told_and_reroutes(make_model, project) -> None:
    def script(turn: Turn) -> Reply:
        if not turn.results:
            return Reply(tool_calls=[("flakyLookup", {"order_id": "1234"})])
        if turn.steps == 1:
            assert turn.results[0][1] is True  # marked as an error
            return Reply(tool_calls=[("getOrderStatus", {"order_id": "1234"})])
        return Reply(text="Delivered (legacy system was down).")

    model = make_model(script)
    agent = Agent(
        "support", "Help.", model=model.provider, tools=["flakyLookup", "getOrderStatus"], tool_retries=2
    )
    result = agent.run("Where is order 1234?", project=project)
    assert result.ok, result.error
    assert result.answer == "Delivered (legacy system was down)."
    retries = [
        e for e in result.events if isinstance(e, NodeRetried) and e.node_id == "support/step-1-1-flakyLookup"
    ]
    assert len(retries) == 2
    told = model.turns[1]
    assert "flakyLookup raised ConnectionError: legacy system unreachable" in results_text(told)


def test_invalid_arguments_unknown_tools_and_malformed_calls_are_fed_back(make_model, project) -> None:
    def script(turn: Turn) -> Reply:
        if not turn.results:
            return Reply(
                tool_calls=[
                    ("getOrderStatus", {"order_id": 1234}),
                    ("cancelOrder", {"order_id": "1234"}),
                    ("getOrderStatus", '{"order_id": "12'),
                ]
            )
        return Reply(text="I could not do that: " + results_text(turn))

    model = make_model(script)
    agent = Agent("support", "Help.", model=model.provider, tools=["getOrderStatus"])
    result = agent.run("Cancel order 1234", project=project)
    assert result.ok, result.error
    bad_args, unknown, malformed = model.turns[1].results
    assert bad_args == ("getOrderStatus: input.order_id: 1234 is not of type 'string'", True) or bad_args[
        0
    ].endswith("input.order_id: 1234 is not of type 'string'")
    assert "unknown tool 'cancelOrder'; the tools are: getOrderStatus" in unknown[0]
    assert "malformed tool call: arguments of getOrderStatus are not valid JSON" in malformed[0]
    assert all(is_error for _, is_error in model.turns[1].results)
    failed = [e for e in result.events if e.type == "ActionEvent" and e.status == "failed"]
    assert [e.action for e in failed] == ["tool:getOrderStatus"]  # the bad arguments are on record


def test_a_runaway_loop_stops_at_max_steps(make_model, project) -> None:
    model = make_model(
        lambda turn: Reply(tool_calls=[("getOrderStatus", {"order_id": str(turn.steps)})], output_tokens=1)
    )
    agent = Agent("support", "Help.", model=model.provider, tools=["getOrderStatus"], max_steps=3)
    result = agent.run("Loop forever", project=project)
    assert not result.ok
    assert result.error == (
        "agent 'support' stopped after 3 steps without a final answer (max_steps) "
        "(raise max_steps, or check why the model keeps calling tools)"
    )
    assert len(model.server.requests) == 3
    failed = [e for e in result.events if e.type == "AgentInvocationEvent" and e.status == "failed"]
    assert failed and failed[0].usage["output_tokens"] == 3


def test_token_budget(make_model, project) -> None:
    model = make_model(
        lambda turn: Reply(
            tool_calls=[("getOrderStatus", {"order_id": "1"})], input_tokens=400, output_tokens=100
        )
    )
    agent = Agent("support", "Help.", model=model.provider, tools=["getOrderStatus"], max_tokens=800)
    result = agent.run("Go", project=project)
    assert (
        "agent 'support' stopped at step 2: it used 1000 tokens, over its budget of 800 (max_tokens)"
        in result.error
    )


def test_timeout_of_the_whole_run(make_model, project) -> None:
    model = make_model(lambda turn: Reply(text="late", delay=30))  # far past the timeout, even under load
    agent = Agent("support", "Help.", model=model.provider, timeout=0.3)
    result = agent.run("Go", project=project)
    assert result.error == "agent 'support' timed out after 0.3s (at step 1)"


def test_unreachable_provider_is_one_line(project) -> None:
    from agentcore_nb.models import Retry
    from agentcore_nb.models.openai import OpenAIProvider

    dead = OpenAIProvider(
        "gpt-test", base_url="http://127.0.0.1:9/v1", api_key="k", retry=Retry(attempts=2, initial=0.01)
    )
    result = Agent("support", "Help.", model=dead).run("Go", project=project)
    assert result.error == (
        "node 'support/step-1' failed: openai gpt-test: cannot connect to http://127.0.0.1:9/v1 "
        "(gave up after 2 attempts) (try again later)"
    )


def test_failing_sub_agent_is_reported_to_the_parent(make_model, project) -> None:
    def script(turn: Turn) -> Reply:
        if "billing" in turn.system:
            return Reply(tool_calls=[("getOrderStatus", {"order_id": "1"})])  # a runaway child
        if not turn.results:
            return Reply(tool_calls=[("billing", {"request": "refunds?"})])
        return Reply(text="Billing is unavailable: " + results_text(turn))

    model = make_model(script)
    billing = Agent(
        "billing", "You are billing.", model=model.provider, tools=["getOrderStatus"], max_steps=1
    )
    parent = Agent("support", "Help.", model=model.provider, subagents=[billing])
    result = parent.run("Refund status?", project=project)
    assert result.ok, result.error
    assert "agent 'billing' stopped after 1 steps" in result.answer


def test_no_model_configured_falls_back_to_the_offline_reasoner_with_a_note(
    project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGENTCORE_MODEL", raising=False)
    agent = Agent(
        "support", "You help customers.", tools=["getOrderStatus"], memory_namespace="support/refunds"
    )
    result = agent.run("Where is my order 1234?", project=project)
    assert result.ok, result.error
    assert result.note.startswith("no model configured") and "offline reasoner (not an LLM)" in result.note
    assert (
        result.answer.splitlines()[1]
        == "- getOrderStatus(order_id=1234): status delivered, timestamp 2025-10-12T09:33Z, order_id 1234"
    )
    assert "- Found 3 related refund events:" in result.answer


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "bad name"}, "the name must start with a letter"),
        ({"name": "a", "max_steps": 0}, "max_steps must be a positive integer, got 0"),
        ({"name": "a", "model": "gpt:4"}, "unknown model provider 'gpt'"),
        ({"name": "a", "memory_namespace": "bad ns!"}, "memory namespace 'bad ns!' is invalid"),
        ({"name": "a", "timeout": -1}, "timeout must be a positive number"),
        ({"name": "a", "tools": ["x", ""]}, "tools must be a list of tool names"),
    ],
)
def test_bad_definitions(kwargs: dict, message: str) -> None:
    with pytest.raises(AgentError, match=message):
        Agent(**kwargs)


def test_sub_agent_cycles_and_clashes_are_refused() -> None:
    a = Agent("a", "A")
    b = Agent("b", "B", subagents=[a])
    with pytest.raises(AgentError, match="the sub-agents form a cycle"):
        a.add_subagent(b)
    assert a.subagents == []
    with pytest.raises(AgentError, match="getOrderStatus is both a tool and a sub-agent"):
        Agent("c", "C", tools=["getOrderStatus"], subagents=[Agent("getOrderStatus", "x")])


def test_unknown_tool_in_the_definition_fails_before_any_model_call(make_model, project) -> None:
    model = make_model(lambda turn: Reply(text="never"))
    result = Agent("support", "Help.", model=model.provider, tools=["nope"]).run("Go", project=project)
    assert result.error.startswith("agent 'support': unknown tool 'nope'")
    assert model.server.requests == []


def test_empty_request_is_refused() -> None:
    with pytest.raises(AgentError, match="needs a request"):
        Agent("a", "A").run("   ")


def test_json_form_round_trips_and_leaves_out_what_it_cannot_name() -> None:
    from agentcore_nb.models import OfflineReasoner
    from agentcore_nb.models.types import ChatResponse, Provider

    class Mine(Provider):
        name, model = "mine", "v1"

        def _chat(self, messages, tools, max_tokens, key):  # type: ignore[no-untyped-def]
            return ChatResponse("hi")

    child = Agent("billing", "B", memory_namespace="support/refunds", remember=False)
    agent = Agent(
        "support",
        "S",
        model="ollama:llama3.2",
        base_url="http://u:p@127.0.0.1:9/v1",
        tools=["t"],
        subagents=[child],
        max_steps=4,
    )
    data = agent.to_config()
    assert data == {
        "name": "support",
        "instructions": "S",
        "model": "ollama:llama3.2",
        "base_url": "http://127.0.0.1:9/v1",
        "tools": ["t"],
        "max_steps": 4,
        "subagents": [
            {"name": "billing", "instructions": "B", "memory_namespace": "support/refunds", "remember": False}
        ],
    }
    again = Agent.from_config(data)
    assert again.to_config() == data and again.subagents[0].remember_namespace is None
    assert "model" not in Agent("x", model=Mine()).to_config()  # in-process only
    assert Agent("x", model=OfflineReasoner()).to_config()["model"] == "offline:offline-reasoner"
    with pytest.raises(AgentError, match="unknown field"):
        Agent.from_config({"name": "x", "api_key": "nope"})


def test_agent_node_without_a_definition_fails_alone(project) -> None:
    from agentcore_nb import Graph, GraphError

    g = Graph("g")
    g.node("helper", kind="agent", config={})
    g.node("other", lambda: 1)
    result = project.runtime().run(g, "hi")
    assert (
        result.errors["helper"]
        == "agent node 'helper' has no config.agent (give it an agent definition (Agent.to_config()))"
    )
    assert result.outputs["other"] == 1
    bad = Graph("bad")
    bad.node("helper", kind="agent", config={"agent": {"name": "x", "max_steps": 0}})
    with pytest.raises(GraphError, match="max_steps must be a positive integer"):
        bad.validate()


def test_one_failing_call_does_not_hide_the_others_of_its_step(make_model, project) -> None:
    def script(turn: Turn) -> Reply:
        if not turn.results:
            return Reply(
                tool_calls=[
                    ("flakyLookup", {"order_id": "1"}),
                    ("getOrderStatus", {"order_id": "2"}),
                    ("flakyLookup", {"order_id": "3"}),
                ]
            )
        return Reply(text="done")

    model = make_model(script)
    agent = Agent(
        "support", "Help.", model=model.provider, tools=["flakyLookup", "getOrderStatus"], tool_retries=0
    )
    result = agent.run("Look up 1, 2 and 3", project=project)
    assert result.ok, result.error
    first, second, third = model.turns[1].results
    assert first[1] and third[1] and not second[1]
    assert "legacy system unreachable" in first[0] and "legacy system unreachable" in third[0]
    assert '"order_id": "2"' in second[0] and '"status": "delivered"' in second[0]
    trace = result.trace()
    assert trace.count("execute_tool flakyLookup") == 2 and "failed" in trace
