"""The ``agent`` node kind: an agent (and its sub-agents) as one node of a graph.

Config: ``agent`` (the agent's JSON form, see :meth:`Agent.to_config`, or in-process an
:class:`Agent`), ``request`` (optional; else the node's ``request`` input, else the run input),
``replay`` (optional ``{"run_id": ..., "tools": bool}``: answer model calls, and tool calls if
``tools``, from a recorded run). Sub-agent nodes carry ``parent``. Output:
``{"agent", "answer", "steps", "usage"}``.

What cannot live in a JSON config (a stream callback, provider objects) is attached to the run by
id with :func:`attach` (``Agent.run`` does that) and copied into ``ctx.run.state``.
"""

from __future__ import annotations

import threading
from typing import Any

from ..graph.spec import Node
from ..models.executor import OVERRIDE, STREAM
from ..models.executor import _fill as fill_template
from ..observability import conventions as conv
from ..runtime.context import NodeContext
from ..runtime.executors import Body, register_executor
from .loop import REPLAY, REPLAY_TOOLS, run_agent
from .spec import Agent, AgentError

_EXTRAS: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()
_READY = "agent.ready"


def attach(run_id: str, **extras: Any) -> None:
    """In-process extras for run ``run_id``: ``agent`` (Agent), ``stream`` (fn(node_id, delta)),
    ``override`` (a provider for every model call), ``replay`` (a Recording), ``replay_tools``."""
    with _lock:
        _EXTRAS[run_id] = extras


def detach(run_id: str) -> None:
    with _lock:
        _EXTRAS.pop(run_id, None)


def _install(ctx: NodeContext, config: dict[str, Any]) -> None:
    state = ctx.run.state
    if state.get(_READY):
        return
    with _lock:
        extras = dict(_EXTRAS.get(ctx.run_id, {}))
    if extras.get("stream") is not None:
        state[STREAM] = extras["stream"]
    if extras.get("override") is not None:
        state[OVERRIDE] = extras["override"]
        if extras.get("replay") is not None:
            state[REPLAY] = extras["replay"]
        state[REPLAY_TOOLS] = bool(extras.get("replay_tools"))
    elif isinstance(config.get("replay"), dict):
        from ..models.replay import ReplayProvider

        spec = config["replay"]
        provider = ReplayProvider.from_log(
            ctx.run.log, str(spec.get("run_id", "")), tools=bool(spec.get("tools"))
        )
        state[OVERRIDE] = provider
        state[REPLAY] = provider.recording
        state[REPLAY_TOOLS] = provider.tools
    if extras.get("agent") is not None:
        state["agent.object"] = extras["agent"]
    state[_READY] = True


def agent_of(ctx: NodeContext, config: dict[str, Any]) -> Agent:
    given = config.get("agent")
    if isinstance(given, Agent):
        return given
    obj = ctx.run.state.get("agent.object")
    if isinstance(obj, Agent) and isinstance(given, dict) and obj.name == given.get("name"):
        return obj
    return Agent.from_config(given)


def request_of(ctx: NodeContext, config: dict[str, Any], inputs: dict[str, Any]) -> str:
    """The request: a ``request`` input, else ``config.request`` (its ``{name}`` fields filled from
    the node's inputs, as IPython fills them in a ``%agent`` line), else the run input."""
    template = config.get("request")
    if isinstance(template, str) and inputs:
        template = fill_template(template, inputs)
    for value in (inputs.get("request"), template, ctx.input):
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, dict):
            for key in ("request", "prompt", "question", "input", "message"):
                if isinstance(value.get(key), str) and value[key].strip():
                    return str(value[key])
    raise AgentError(
        f"agent node '{ctx.node.name}' got no request",
        hint='give the run a string input, or {"prompt": "..."}, or wire a "request" input',
    )


def validate_agent_node(node: Node) -> list[str]:
    given = node.config.get("agent")
    if isinstance(given, Agent):
        return given.problems()
    if given is None:
        return []  # reported when the node runs (the rest of the graph still runs)
    if not isinstance(given, dict):
        return ["config.agent must be the agent definition (an object)"]
    try:
        Agent.from_config(given)
    except AgentError as exc:
        return [exc.message]
    replay = node.config.get("replay")
    if replay is not None and (not isinstance(replay, dict) or not isinstance(replay.get("run_id"), str)):
        return ['config.replay must look like {"run_id": "...", "tools": false}']
    return []


class AgentExecutor:
    kind = "agent"

    def prepare(self, node: Node) -> Body:
        config = dict(node.config)
        given = config.get("agent")
        if given is None:
            raise AgentError(
                f"agent node '{node.name}' has no config.agent",
                hint="give it an agent definition (Agent.to_config())",
            )
        name = given.name if isinstance(given, Agent) else (given or {}).get("name", node.name)

        def run(ctx: NodeContext, inputs: dict[str, Any]) -> dict[str, Any]:
            _install(ctx, config)
            agent = agent_of(ctx, config)
            return run_agent(
                ctx, agent, request_of(ctx, config, inputs), parent=str(config.get("parent") or "")
            )

        return Body(
            run,
            operation=conv.INVOKE_AGENT,
            span_name=conv.span_name(conv.INVOKE_AGENT, name),
            attributes={conv.AGENT_NAME: name},
        )


register_executor(AgentExecutor(), validator=validate_agent_node)
