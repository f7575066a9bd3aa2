"""Issuance in the runtime: one narrowed token per node invocation, attenuation down the node tree,
denials as events and span statuses, and no token anywhere in logs, events or spans."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from agentcore_nb import Graph, Node, Runtime
from agentcore_nb.authz import authorize
from agentcore_nb.errors import NodeError, NotPermittedError
from agentcore_nb.events import AccessDenied, NodeFailed
from agentcore_nb.identity import Identity
from agentcore_nb.project import Project


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.fixture
def runtime(project: Project, spans) -> Runtime:
    return project.runtime(tracer_provider=spans[0])


def claims_of(ctx: Any) -> dict[str, Any]:
    return ctx.services["identity"].verify(ctx.token).to_dict()


def test_each_node_invocation_gets_its_own_narrowed_token(project: Project, runtime: Runtime) -> None:
    g = Graph("orders")
    g.node("lookup", claims_of, metadata={"scopes": ["tool:getOrderStatus", "memory:read:support"]})
    g.node("plain", claims_of, after=["lookup"])
    g.node("retried", _fails_once, retries=1, metadata={"scopes": "code:exec"})
    result = runtime.run(g, session_id="sess-1").raise_for_status()
    lookup, plain = result.outputs["lookup"], result.outputs["plain"]
    assert lookup["scope"] == "tool:getOrderStatus memory:read:support"
    assert plain["scope"] == ""  # a python node needs nothing unless it says so
    assert lookup["sid"] == plain["sid"] == "sess-1"
    assert lookup["sub"] == "graph:orders" and "act" not in lookup
    assert lookup["jti"] != plain["jti"]
    assert lookup["exp"] - lookup["iat"] == project.services["identity"].config.ttl
    first, second = result.outputs["retried"]
    assert first != second  # each attempt is an invocation with a token of its own


_SEEN: dict[str, list[str]] = {}


def _fails_once(ctx: Any) -> list[str]:
    seen = _SEEN.setdefault(ctx.run_id, [])
    seen.append(claims_of(ctx)["jti"])
    if len(seen) == 1:
        raise RuntimeError("first attempt fails")
    return seen


def _use(scope: str):
    def body(ctx: Any) -> str:
        authorize(ctx.services, ctx.token, scope, session_id=ctx.session_id)
        return f"used {scope}"

    return body


def test_a_node_asking_for_a_tool_outside_its_scope_fails_and_the_run_goes_on(
    project: Project, runtime: Runtime, spans
) -> None:
    g = Graph("support")
    g.node("lookup", _use("tool:getOrderStatus"), metadata={"scopes": ["tool:getOrderStatus"]})
    g.node("refund", _use("tool:refundOrder"), metadata={"scopes": ["tool:getOrderStatus"]}, retries=2)
    g.node("report", lambda lookup: f"report after {lookup}", inputs=["lookup"])
    result = runtime.run(g, session_id="sess-2")
    assert result.status == "failed"
    assert result.errors == {"refund": "not permitted: tool:refundOrder (scope not granted)"}
    assert result.outputs["report"] == "report after used tool:getOrderStatus"
    events = project.event_log.events(result.run_id)
    (denied,) = [e for e in events if isinstance(e, AccessDenied)]
    assert (denied.node_id, denied.scope, denied.reason, denied.agent) == (
        "refund", "tool:refundOrder", "scope not granted", "graph:support"
    )  # fmt: skip
    assert denied.jti and denied.session_id == "sess-2"
    (failed,) = [e for e in events if isinstance(e, NodeFailed)]  # a denial is not retried
    assert failed.error_type == "NotPermittedError" and failed.node_id == "refund"
    (span,) = [s for s in spans[1].get_finished_spans() if s.name == "execute_node refund"]
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == "not permitted: tool:refundOrder (scope not granted)"
    (event,) = [e for e in span.events if e.name == "agentcore.access_denied"]
    assert dict(event.attributes) == {
        "agentcore.scope": "tool:refundOrder",
        "agentcore.reason": "scope not granted",
    }


def test_through_the_gateway_a_tool_node_outside_the_run_token_fails(
    project: Project, runtime: Runtime, spans
) -> None:
    gateway = project.services["gateway"]

    def getOrderStatus(order_id: str) -> dict:  # noqa: N802
        """Status of an order."""
        return {"order_id": order_id, "status": "delivered"}

    def refundOrder(order_id: str) -> dict:  # noqa: N802
        """Refund an order."""
        return {"order_id": order_id, "refunded": True}

    gateway.register_function(getOrderStatus)
    gateway.register_function(refundOrder)
    identity: Identity = project.services["identity"]
    caller = identity.issue(
        "support-bot", "tool:getOrderStatus memory:read:support", ttl=120, session="chat-9"
    )
    g = Graph("desk")
    g.node("status", kind="tool", config={"tool": "getOrderStatus", "arguments": {"order_id": "1234"}})
    g.node("refund", kind="tool", config={"tool": "refundOrder", "arguments": {"order_id": "1234"}})
    g.node("answer", lambda status: f"order is {status['status']}", inputs=["status"])
    result = runtime.run(g, session_id="chat-9", token=caller)
    assert result.errors == {"refund": "not permitted: tool:refundOrder (scope not granted)"}
    assert result.outputs["answer"] == "order is delivered"
    finished = spans[1].get_finished_spans()
    (refund_span,) = [s for s in finished if s.attributes.get("agentcore.node.name") == "refund"]
    assert refund_span.attributes["agentcore.identity.withheld"] == ("tool:refundOrder",)
    assert refund_span.attributes["agentcore.identity.scopes"] == ()
    assert refund_span.attributes["agentcore.identity.agent"] == "support-bot"
    denied = [e for e in project.event_log.events(result.run_id) if isinstance(e, AccessDenied)]
    assert [(e.node_id, e.scope) for e in denied] == [("refund", "tool:refundOrder")]


def _planner(ctx: Any) -> dict[str, Any]:
    helper = Node("helper", config={"callable": _helper}, metadata={"agent": "helper", "scopes": ["tool:a"]})
    return {"planner": claims_of(ctx), **ctx.run_node(helper)}


def _helper(ctx: Any) -> dict[str, Any]:
    sneaky = Node("sneaky", config={"callable": _sneaky}, metadata={"scopes": ["tool:a", "tool:b"]})
    try:
        ctx.run_node(sneaky)
        error = ""
    except NodeError as exc:
        error = str(exc)
    return {"helper": claims_of(ctx), "sneaky_error": error}


def _sneaky(ctx: Any) -> None:
    ctx.run.state["sneaky"] = claims_of(ctx)
    authorize(ctx.services, ctx.token, "tool:a")
    authorize(ctx.services, ctx.token, "tool:b")  # the planner had it; the helper was not given it


def test_a_sub_agent_node_cannot_regain_what_its_parent_withheld(runtime: Runtime) -> None:
    g = Graph("crew")
    g.node("planner", _planner, metadata={"agent": "planner", "scopes": ["tool:a", "tool:b"]})
    out = runtime.run(g, session_id="s-crew").raise_for_status().outputs["planner"]
    assert out["planner"]["scope"] == "tool:a tool:b" and out["planner"]["sub"] == "planner"
    assert out["helper"]["scope"] == "tool:a"
    assert out["helper"]["sub"] == "planner" and out["helper"]["act"] == {"sub": "helper"}
    assert (
        out["sneaky_error"]
        == "node 'planner/helper/sneaky' failed: not permitted: tool:b (scope not granted)"
    )


def test_the_run_token_bounds_every_node_and_binds_the_session(project: Project, runtime: Runtime) -> None:
    identity: Identity = project.services["identity"]
    caller = identity.issue("support-bot", "tool:a", ttl=60, session="sess-a")
    g = Graph("bounded")
    g.node("n", claims_of, metadata={"scopes": ["tool:a", "code:exec"]})
    out = runtime.run(g, session_id="sess-a", token=caller).raise_for_status().outputs["n"]
    assert (
        out["scope"] == "tool:a"
        and out["sub"] == "support-bot"
        and out["exp"] <= identity.verify(caller).expires
    )
    with pytest.raises(
        NotPermittedError, match=r"^not permitted: run \(the run's token: token is for another session\)$"
    ):
        runtime.run(g, session_id="sess-b", token=caller)
    with pytest.raises(NotPermittedError, match=r"the run's token: bad signature"):
        runtime.run(
            g, session_id="sess-a", token=caller[:-9] + ("A" if caller[-9] != "A" else "B") + caller[-8:]
        )


def test_revoking_the_session_stops_the_next_node(project: Project, runtime: Runtime) -> None:
    def revoke(ctx: Any) -> str:
        ctx.services["identity"].revoke(session=ctx.session_id)
        return "revoked"

    def revoke_then_use(ctx: Any) -> None:
        revoke(ctx)
        authorize(ctx.services, ctx.token, "tool:a", session_id=ctx.session_id)

    g = Graph("cut")
    g.node("first", revoke)
    g.node("second", claims_of, after=["first"])
    result = runtime.run(g, session_id="doomed")
    assert result.errors == {"second": "not permitted: issue (session revoked)"}
    # a token already held by a running node is refused at its next use
    g2 = Graph("cut-live")
    g2.node("node", revoke_then_use, metadata={"scopes": ["tool:a"]})
    result = runtime.run(g2, session_id="doomed-too")
    assert result.errors == {"node": "not permitted: tool:a (session revoked)"}
    (denied,) = [e for e in project.event_log.events(result.run_id) if isinstance(e, AccessDenied)]
    assert denied.reason == "session revoked" and denied.agent == "graph:cut-live" and denied.jti


def test_bad_node_scopes_fail_that_node_in_one_line(runtime: Runtime) -> None:
    g = Graph("typo")
    g.node("bad", claims_of, metadata={"scopes": ["tool:a b", "memory:read:../x"]})
    g.node("dots", claims_of, metadata={"scopes": "memory:read:support/../billing"})
    g.node("good", claims_of)
    result = runtime.run(g)
    assert result.errors["bad"].startswith("invalid scope 'b'")
    assert result.errors["dots"] == (
        "invalid scope 'memory:read:support/../billing' (namespace parts are names, never '.' or '..')"
    )
    assert "good" in result.outputs


def test_node_tokens_can_be_turned_off_and_a_bare_runtime_can_opt_in(
    project: Project, agentcore_home
) -> None:
    identity: Identity = project.services["identity"]
    identity.configure(node_tokens=False)
    g = Graph("off")
    g.node("n", lambda ctx: ctx.token)
    assert project.runtime().run(g).raise_for_status().outputs["n"] is None
    identity.configure(node_tokens=True)
    with Runtime(hooks=[identity.hook()], services={"identity": identity}) as bare:
        token = bare.run(g, session_id="bare").raise_for_status().outputs["n"]
    assert identity.verify(token).session == "bare"


def test_tokens_never_reach_logs_events_or_spans(project: Project, runtime: Runtime, spans, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    def grab(ctx: Any) -> str:
        seen.append(ctx.token)
        assert ctx.token not in repr(ctx)
        logging.getLogger("agentcore_nb").debug("context %r", ctx)
        return "ok"

    def deny(ctx: Any) -> None:
        seen.append(ctx.token)
        authorize(ctx.services, ctx.token, "tool:forbidden")

    identity: Identity = project.services["identity"]
    caller = identity.issue("bot", "tool:a", ttl=60, session="quiet")
    seen.append(caller)
    g = Graph("quiet")
    g.node("grab", grab, metadata={"scopes": ["tool:a"]})
    g.node("deny", deny, metadata={"scopes": ["tool:a"]}, after=["grab"])
    result = runtime.run(g, session_id="quiet", token=caller)
    assert result.errors == {"deny": "not permitted: tool:forbidden (scope not granted)"}
    with pytest.raises(NotPermittedError):
        runtime.run(g, session_id="elsewhere", token=caller)
    assert len(seen) == 3 and all(seen)
    haystacks = [e.to_json() for e in project.event_log.events(result.run_id)]
    haystacks += [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    for span in spans[1].get_finished_spans():
        haystacks.append(repr(dict(span.attributes or {})))
        haystacks += [repr((e.name, dict(e.attributes or {}))) for e in span.events]
        haystacks.append(str(span.status.description))
    assert any("tool:forbidden" in h for h in haystacks)  # the denial is recorded ...
    for token in seen:  # ... the tokens are not, not even their signatures
        signature = token.rsplit(".", 1)[1]
        assert not any(token in h or signature in h for h in haystacks)
