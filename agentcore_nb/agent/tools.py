"""What an agent may call (gateway tools and sub-agents), and calling them as nodes, concurrently.

Each call is a child node of the agent's node: a ``tool`` node (the gateway executes, validates the
arguments, emits the ``ActionEvent``, span ``execute_tool NAME``) or, for a sub-agent, a nested
``agent`` node (its own trace subtree). Calls of one step run at the same time; a call that keeps
failing after its retries comes back as an error result that is shown to the model.
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import AgentcoreError
from ..events import ActionEvent
from ..graph.policy import Backoff, Policy
from ..graph.spec import Node
from ..models.types import ToolCall
from .spec import Agent, AgentError

if TYPE_CHECKING:
    from ..runtime.context import NodeContext

REQUEST_SCHEMA = {
    "type": "object",
    "properties": {"request": {"type": "string", "description": "What to ask, in plain language."}},
    "required": ["request"],
}
TOOL_BACKOFF = Backoff(initial=0.05, multiplier=2.0, max=2.0, jitter=0.1)


@dataclass(slots=True)
class Callable_:
    """One thing the model may call."""

    name: str
    spec: dict[str, Any]
    agent: Agent | None = None  # set for sub-agents


@dataclass(slots=True)
class Outcome:
    call: ToolCall
    ok: bool
    value: Any
    node_id: str = ""


def gateway_of(ctx: NodeContext, agent: Agent) -> Any:
    try:
        return ctx.services["gateway"]
    except KeyError:
        raise AgentError(
            f"agent {agent.name!r} uses tools ({', '.join(agent.tools)}) but the gateway is not available",
            hint="register tools with the gateway (agentcore_nb.gateway) first",
        ) from None


def callables(ctx: NodeContext, agent: Agent) -> dict[str, Callable_]:
    """The agent's tools (looked up in the gateway, so unknown names fail here) and sub-agents."""
    found: dict[str, Callable_] = {}
    if agent.tools:
        gateway = gateway_of(ctx, agent)
        for name in agent.tools:
            try:
                spec = gateway.get(name).to_mcp()
            except AgentcoreError as exc:
                raise AgentError(f"agent {agent.name!r}: {exc.message}", hint=exc.hint) from None
            except KeyError:
                raise AgentError(f"agent {agent.name!r}: no tool named {name!r} in the gateway") from None
            found[name] = Callable_(
                name,
                {
                    "name": spec["name"],
                    "description": spec.get("description", ""),
                    "inputSchema": spec.get("inputSchema") or {"type": "object"},
                },
            )
    for child in agent.subagents:
        found[child.name] = Callable_(
            child.name,
            {"name": child.name, "description": f"Sub-agent: {child.summary}", "inputSchema": REQUEST_SCHEMA},
            agent=child,
        )
    return found


def node_name(step: int, index: int, target: str) -> str:
    """``step-2-1-getOrderStatus``: unique in the agent, stable across replays."""
    clean = re.sub(r"[^A-Za-z0-9_\-]", "_", target)[:80]
    return f"step-{step}-{index}-{clean}"


def call_node(agent: Agent, target: Callable_, call: ToolCall, name: str, timeout: float | None) -> Node:
    policy = Policy(retries=agent.tool_retries, backoff=TOOL_BACKOFF, timeout=timeout)
    if target.agent is not None:
        request = call.arguments.get("request")
        return Node(
            name,
            kind="agent",
            config={
                "agent": target.agent,
                "parent": agent.name,
                "request": request if isinstance(request, str) else "",
            },
            policy=Policy(retries=0, timeout=timeout),
        )
    return Node(name, kind="tool", config={"tool": target.name, "arguments": call.arguments}, policy=policy)


def _replayed(recording: Any, node_id: str, call: ToolCall) -> Node:
    ok, value = recording.tool_result(node_id)

    def replay(ctx: NodeContext) -> Any:
        ctx.emit(
            ActionEvent(
                action=call.name,
                input=call.arguments,
                output=value if ok else None,
                status="succeeded" if ok else "failed",
                error="" if ok else str(value),
                attributes={"replayed": True},
            )
        )
        if not ok:
            raise AgentError(f"{value} (replayed)")
        return value

    return Node(node_id.rsplit("/", 1)[-1], config={"callable": replay}, metadata={"replayed": True})


def _input_problem(target: Callable_, call: ToolCall) -> str:
    """The gateway's own input check, done before a node is started: a call with bad arguments is
    sent back to the model at once instead of being retried."""
    if target.agent is not None:
        request = call.arguments.get("request")
        return (
            ""
            if isinstance(request, str) and request.strip()
            else f"{call.name}: input.request: a request (string) is required"
        )
    from ..gateway.spec import validation_error, validator_for

    problem = validation_error(validator_for(target.spec.get("inputSchema") or {}), call.arguments, "input")
    return f"{call.name}: {problem}" if problem else ""


class _Failures:
    """Final node failures of watched nodes, read off the event log as the scheduler records them.

    One listener per log object, installed once and never removed: adding and removing listeners
    per step would race with other threads appending events (a removal shifts the list under an
    iterating ``append``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logs: weakref.WeakSet[Any] = weakref.WeakSet()
        self._watch: set[tuple[str, str]] = set()
        self._found: dict[tuple[str, str], str] = {}

    def watch(self, log: Any, keys: set[tuple[str, str]]) -> None:
        with self._lock:
            self._watch |= keys
            install = log not in self._logs
            if install:
                self._logs.add(log)
        if install:
            log.subscribe(self._on_event)

    def _on_event(self, event: Any) -> None:
        if event.type == "NodeFailed" and getattr(event, "final", False):
            key = (event.run_id, event.node_id)
            if key in self._watch:
                with self._lock:
                    self._found[key] = getattr(event, "error", "") or "failed"

    def take(self, keys: set[tuple[str, str]]) -> dict[str, str]:
        with self._lock:
            self._watch -= keys
            return {k[1]: self._found.pop(k) for k in keys if k in self._found}


_FAILURES = _Failures()


def _run_together(ctx: NodeContext, nodes: list[Node]) -> list[tuple[str, bool, Any]]:
    """``ctx.run_nodes`` with every node set to ``on_error=skip`` (after its retries), so one failed
    call does not hide the others' results. Returns ``(node_id, ok, output or error)`` per node."""
    if not nodes:
        return []
    keys = {(ctx.run_id, f"{ctx.node_id}/{n.name}") for n in nodes}
    for n in nodes:
        n.policy.on_error = "skip"
    _FAILURES.watch(ctx.run.log, keys)
    try:
        outputs = ctx.run_nodes(nodes)
    finally:
        failures = _FAILURES.take(keys)
    out: list[tuple[str, bool, Any]] = []
    for n in nodes:
        node_id = f"{ctx.node_id}/{n.name}"
        if node_id in failures:
            out.append((node_id, False, failures[node_id]))
        else:
            out.append((node_id, True, outputs.get(n.name)))
    return out


def run_calls(
    ctx: NodeContext,
    agent: Agent,
    step: int,
    calls: list[ToolCall],
    targets: dict[str, Callable_],
    timeout: float | None,
    replay: Any = None,
    replay_tools: bool = False,
) -> list[Outcome]:
    """Run one step's tool calls as child nodes of this node (one ``run_nodes``: the engine runs
    them concurrently); errors become error outcomes."""
    outcomes: list[Outcome | None] = [None] * len(calls)
    jobs: list[tuple[int, Node]] = []
    for i, call in enumerate(calls):
        if call.error:
            outcomes[i] = Outcome(call, False, f"malformed tool call: {call.error}")
            continue
        target = targets.get(call.name)
        if target is None:
            known = ", ".join(sorted(targets)) or "none"
            outcomes[i] = Outcome(call, False, f"unknown tool {call.name!r}; the tools are: {known}")
            continue
        problem = _input_problem(target, call)
        if problem:
            ctx.emit(
                ActionEvent(action=f"tool:{call.name}", input=call.arguments, status="failed", error=problem)
            )
            outcomes[i] = Outcome(call, False, problem)
            continue
        name = node_name(step, i + 1, call.name)
        node_id = f"{ctx.node_id}/{name}"
        if replay is not None and replay_tools and target.agent is None:
            jobs.append((i, _replayed(replay, node_id, call)))
        else:
            jobs.append((i, call_node(agent, target, call, name, timeout)))

    done = _run_together(ctx, [node for _, node in jobs])
    results = [
        Outcome(calls[i], ok, value, node_id) for (i, _), (node_id, ok, value) in zip(jobs, done, strict=True)
    ]
    for (i, _), outcome in zip(jobs, results, strict=True):
        outcomes[i] = outcome
        if replay is not None and (not replay_tools or targets[outcome.call.name].agent is not None):
            replay.check_tool(outcome.node_id, outcome.ok, outcome.value)
    return [o for o in outcomes if o is not None]
