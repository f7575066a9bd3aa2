"""The acceptance run shared by the trace tests: parallel branches, a retry, a failing tool, an
agent with a tool call and a sub-agent (offline reasoner), on a real project."""

from __future__ import annotations

import threading
from typing import Any

from agentcore_nb import Graph
from agentcore_nb.agent import Agent
from agentcore_nb.project import Project
from agentcore_nb.runtime.runtime import RunResult


def getOrderStatus(order_id: str) -> dict:
    """Look up the status of an order by its id."""
    return {"order_id": order_id, "status": "delivered"}


def chargeCard(order_id: str) -> dict:
    """Charge the card of an order."""
    raise RuntimeError("card declined")


def build(project: Project) -> Graph:
    gw = project.services["gateway"]
    gw.register_function(getOrderStatus)
    gw.register_function(chargeCard)
    both = threading.Barrier(2, timeout=30)  # the two branches are provably running at once
    calls = {"n": 0}

    def branch(value: int) -> Any:
        def body() -> int:
            both.wait()
            return value

        return body

    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("first try fails")
        return "ok"

    billing = Agent("billing", "You handle refunds.")
    support = Agent("support", "Customer support.", tools=["getOrderStatus"], subagents=[billing])
    g = Graph("support")
    g.node("fetch_a", branch(1))
    g.node("fetch_b", branch(2))
    g.node("flaky", flaky, retries=1)
    g.node("charge", kind="tool", config={"tool": "chargeCard", "arguments": {"order_id": "1234"}})
    g.node(
        "support",
        kind="agent",
        config={"agent": support, "request": "Where is my order 1234? Was it refunded?"},
    )
    return g


def run(project: Project) -> RunResult:
    result = project.runtime().run(build(project), None, session_id="sess-trace")
    assert project.tracing.flush()
    return result
