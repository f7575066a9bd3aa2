"""With identity (on by default in a project): every step of an agent holds a token narrowed to what
it needs, a sub-agent's narrower than its parent's, and a caller's token bounds them all."""

from __future__ import annotations

import pytest

from agentcore_nb.agent import Agent


def agents() -> Agent:
    billing = Agent(
        "billing",
        "Answers refund questions from the refund history.",
        model="offline",
        memory_namespace="support/refunds",
    )
    return Agent(
        "support", "You help customers.", model="offline", tools=["getOrderStatus"], subagents=[billing]
    )


def scopes_of(spans, name: str) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    (span,) = [s for s in spans if s.name == name]
    return tuple(span.attributes["agentcore.identity.scopes"])


def test_each_step_holds_only_what_it_needs(project, spans) -> None:
    result = agents().run("Where is my order 1234? Was my refund processed?", project=project)
    assert result.ok, result.error
    finished = spans[1].get_finished_spans()
    assert set(scopes_of(finished, "invoke_agent support")) == {
        "tool:getOrderStatus",
        "memory:read:support/refunds",
        "memory:write:agents/billing",
    }
    assert scopes_of(finished, "invoke_agent billing") == (
        "memory:read:support/refunds",
        "memory:write:agents/billing",
    )
    assert scopes_of(finished, "execute_tool step-1-1-getOrderStatus") == ("tool:getOrderStatus",)
    billing = next(s for s in finished if s.name == "invoke_agent billing")
    assert billing.attributes["agentcore.identity.agent"] == "billing"
    recalls = [s for s in finished if s.name == "search_memory recall"]
    assert [tuple(s.attributes["agentcore.identity.scopes"]) for s in recalls] == [
        ("memory:read:support/refunds",)
    ]
    chats = [s for s in finished if s.name.startswith("chat ")]
    assert all(tuple(s.attributes["agentcore.identity.scopes"]) == () for s in chats)


def test_a_callers_token_bounds_the_agent_and_its_sub_agents(project, spans) -> None:
    identity = project.services["identity"]
    token = identity.issue("customer-portal", "tool:getOrderStatus", session="portal-1")
    result = agents().run(
        "Where is my order 1234? Was my refund processed?",
        project=project,
        token=token,
        session_id="portal-1",
    )
    assert result.ok, result.error
    assert "- getOrderStatus(order_id=1234): status delivered" in result.answer
    assert "billing(request=" in result.answer and "failed: " in result.answer
    assert "not permitted: memory:read:support/refunds" in result.answer
    finished = spans[1].get_finished_spans()
    billing = next(s for s in finished if s.name == "invoke_agent billing")
    assert set(billing.attributes["agentcore.identity.withheld"]) == {
        "memory:read:support/refunds",
        "memory:write:agents/billing",
    }


def test_a_token_for_another_session_is_refused_before_anything_runs(project) -> None:
    from agentcore_nb.errors import NotPermittedError

    token = project.services["identity"].issue("customer-portal", "tool:getOrderStatus", session="portal-1")
    with pytest.raises(
        NotPermittedError, match=r"not permitted: run \(the run's token: token is for another session\)"
    ):
        agents().run("Where is my order 1234?", project=project, token=token, session_id="someone-else")
