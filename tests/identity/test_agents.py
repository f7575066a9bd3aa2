# ruff: noqa: F811  (fixtures imported from the agent tests are used as parameters)
"""A real agent with a sub-agent (fake OpenAI server, real project): every step holds a token
narrowed from its agent's, the sub-agent's narrower still; a caller's token bounds the whole run."""

from __future__ import annotations

import pytest

from agentcore_nb.agent import Agent
from agentcore_nb.events import AccessDenied
from agentcore_nb.graph.spec import Node
from agentcore_nb.identity import node_scopes
from tests.agent.conftest import make_model, project, results_text, spans  # noqa: F401
from tests.agent.test_acceptance import agents, support_script
from tests.models.fakes import Reply


@pytest.fixture
def fmt() -> str:
    return "openai"


def test_agent_scopes_come_from_the_definition() -> None:
    helper = Agent("helper", tools=["getOrderStatus", "executeCode"], memory_namespace="support/refunds")
    boss = Agent("boss", tools=["refundOrder"], memory_namespace="support", subagents=[helper])
    scopes = node_scopes(Node("boss", kind="agent", config={"agent": boss.to_config()}))
    assert scopes == (
        "tool:refundOrder", "memory:read:support", "memory:write:agents/boss",
        "tool:getOrderStatus", "tool:executeCode", "code:exec", "memory:read:support/refunds",
        "memory:write:agents/helper",
    )  # fmt: skip


def by_name(spans, name: str):
    return [s for s in spans[1].get_finished_spans() if s.name == name]


def test_each_agent_step_gets_a_narrowed_token(make_model, project, spans) -> None:
    model = make_model(support_script)
    result = agents(model.provider).run("Where is my order 1234, and was it refunded?", project=project)
    assert result.ok, result.error
    (support,) = by_name(spans, "invoke_agent support")
    (billing,) = by_name(spans, "invoke_agent billing")
    (tool,) = by_name(spans, "execute_tool step-1-1-getOrderStatus")
    assert support.attributes["agentcore.identity.agent"] == "support"
    assert set(support.attributes["agentcore.identity.scopes"]) == {
        "tool:getOrderStatus", "memory:read:support/refunds", "memory:write:agents/support",
        "memory:write:agents/billing",
    }  # fmt: skip
    assert tool.attributes["agentcore.identity.scopes"] == ("tool:getOrderStatus",)
    assert tool.attributes["agentcore.identity.agent"] == "support"
    assert billing.attributes["agentcore.identity.agent"] == "billing"  # acting for support
    assert set(billing.attributes["agentcore.identity.scopes"]) == {
        "memory:read:support/refunds", "memory:write:agents/billing"
    }  # fmt: skip
    remember = [
        s for s in by_name(spans, "update_memory remember") if s.parent.span_id == billing.context.span_id
    ]
    assert remember[0].attributes["agentcore.identity.scopes"] == ("memory:write:agents/billing",)


def test_a_caller_token_without_the_tool_refuses_that_call_and_the_agent_goes_on(
    make_model,
    project,
) -> None:
    def script(turn):  # type: ignore[no-untyped-def]
        if not turn.results:
            return Reply(tool_calls=[("getOrderStatus", {"order_id": "1234"})])
        return Reply(text=f"Sorry: {results_text(turn)}")

    model = make_model(script)
    agent = Agent(
        "support", "You are a customer-support agent.", model=model.provider, tools=["getOrderStatus"]
    )
    identity = project.services["identity"]
    caller = identity.issue("web-user", "memory:read:support", ttl=120, session="chat-7")
    result = agent.run("Where is order 1234?", project=project, session_id="chat-7", token=caller)
    assert result.ok, result.error
    assert "not permitted: tool:getOrderStatus (scope not granted)" in result.answer
    denied = [e for e in result.events if isinstance(e, AccessDenied)]
    assert [(e.scope, e.agent, e.session_id) for e in denied] == [
        ("tool:getOrderStatus", "support", "chat-7")
    ]
