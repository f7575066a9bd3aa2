"""The agent loop, run inside an ``agent`` node: recall -> (reason -> act -> remember)* -> answer.

Every step is a child node run by the engine, so the run is a dynamic graph in the event log:
``recall`` (``memory`` search), ``step-N`` (``reason``: one model call), ``step-N-I-TOOL`` (a
``tool`` call, or a nested ``agent`` node for a sub-agent; the calls of one step run concurrently),
``remember`` (``memory`` add). Spans follow: ``invoke_agent`` > ``search_memory`` /
``chat MODEL`` / ``execute_tool`` / ``invoke_agent`` (sub-agent) > ...
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from ..errors import AgentcoreError, NodeError
from ..events import AgentInvocationEvent
from ..graph.policy import Policy
from ..graph.spec import Node
from ..models import model_service
from ..models.executor import OVERRIDE
from ..models.types import ChatResponse, Provider, Usage, tool_result_message
from ..observability import conventions as conv
from ..runtime.scheduler import error_line
from .spec import Agent, AgentError
from .tools import callables, run_calls

if TYPE_CHECKING:
    from ..runtime.context import NodeContext

REPLAY = "agent.replay"
REPLAY_TOOLS = "agent.replay_tools"


def provider_for(ctx: NodeContext, agent: Agent) -> tuple[Provider, str]:
    """``(provider, note)``: the run's override (replay), the agent's model, or the default."""
    override = ctx.run.state.get(OVERRIDE)
    if isinstance(override, Provider):
        return override, ""
    if isinstance(agent.model, Provider):
        return agent.model, ""
    service = model_service(ctx.services)
    note = service.note if agent.model is None else ""
    return service.provider(agent.model, base_url=agent.base_url), note


def memory_summary(count: int, namespace: str) -> str:
    """The seed's phrase: ``Found 3 related refund events``."""
    leaf = namespace.rstrip("/").rsplit("/", 1)[-1]
    topic = leaf[:-1] if leaf.endswith("s") and len(leaf) > 3 else leaf
    what = f"related {topic} events" if topic else "related memories"
    return f"Found {count if count else 'no'} {what}"


def _memory(ctx: NodeContext, agent: Agent) -> Any:
    try:
        return ctx.services["memory"]
    except KeyError:
        raise AgentError(
            f"agent {agent.name!r} uses memory ({agent.memory_namespace}) but the memory service is not available"
        ) from None


class _Clock:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.deadline = time.monotonic() + agent.timeout if agent.timeout else None

    def remaining(self, step: int) -> float | None:
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise AgentError(
                f"agent {self.agent.name!r} timed out after {self.agent.timeout:g}s (at step {step})"
            )
        return left

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline - 0.01

    def timed_out(self, step: int) -> AgentError:
        return AgentError(
            f"agent {self.agent.name!r} timed out after {self.agent.timeout:g}s (at step {step})"
        )


def recall(ctx: NodeContext, agent: Agent, request: str, timeout: float | None) -> dict[str, Any] | None:
    """Search the agent's memory namespace (a ``memory`` node); the hits as a system message."""
    ns = agent.memory_namespace
    if not ns:
        return None
    node = Node(
        "recall",
        kind="memory",
        inputs={"query": "$input.query"},
        config={"op": "search", "namespace": ns, "k": agent.memory_k},
        policy=Policy(timeout=timeout),
    )
    hits = ctx.run_node(node, input={"query": request}) or []
    summary = memory_summary(len(hits), ns)
    ctx.span.add_event(
        conv.MEMORY_RETRIEVE_EVENT, {"result_summary": summary, "hits": len(hits), "namespace": ns}
    )
    if not hits:
        return None
    listing = "\n".join(f"- {h.get('text', '')}" for h in hits)
    return {
        "role": "system",
        "content": f"{summary} in memory ({ns}):\n{listing}",
        "memory": [
            {"text": h.get("text", ""), "score": h.get("score"), "namespace": h.get("namespace")}
            for h in hits
        ],
        "summary": summary,
    }


def _history(memory: Any, key: str) -> list[dict[str, Any]]:
    out = []
    for turn in memory.session(key).recent():
        if turn.role in ("user", "assistant") and turn.text:
            out.append({"role": turn.role, "content": turn.text})
    return out


def run_agent(ctx: NodeContext, agent: Agent, request: str, *, parent: str = "") -> dict[str, Any]:
    """Run ``agent`` on ``request`` inside the current (``agent``) node; returns its output dict."""
    if not isinstance(request, str) or not request.strip():
        raise AgentError(f"agent {agent.name!r} needs a request (a non-empty string)")
    clock = _Clock(agent)
    span = ctx.span
    span.update_name(conv.span_name(conv.INVOKE_AGENT, agent.name))
    span.set_attributes({conv.OPERATION: conv.INVOKE_AGENT, conv.AGENT_NAME: agent.name})
    if parent:
        span.set_attribute(conv.AGENT_PARENT, parent)
    ctx.emit(AgentInvocationEvent(agent=agent.name, request=request, parent_agent=parent, status="started"))
    usage = Usage()
    step = 0
    try:
        provider, note = provider_for(ctx, agent)
        span.set_attributes({conv.REQUEST_MODEL: provider.model, conv.MODEL_KIND: provider.kind})
        if note:
            span.set_attribute(conv.MODEL_NOTE, note)
        targets = callables(ctx, agent)
        replay = ctx.run.state.get(REPLAY)
        replay_tools = bool(ctx.run.state.get(REPLAY_TOOLS))
        uses_memory = bool(agent.memory_namespace or agent.remember_namespace)
        memory = _memory(ctx, agent) if uses_memory else None
        history_key = f"{ctx.session_id}:{agent.name}"

        messages: list[dict[str, Any]] = []
        if agent.instructions:
            messages.append({"role": "system", "content": agent.instructions})
        found = recall(ctx, agent, request, clock.remaining(1))
        if found:
            messages.append(found)
        if memory is not None:
            messages += _history(memory, history_key)
            memory.session(history_key).add("user", request)
        messages.append({"role": "user", "content": request})
        specs = [t.spec for t in targets.values()]

        answer = ""
        while True:
            step += 1
            if step > agent.max_steps:
                raise AgentError(
                    f"agent {agent.name!r} stopped after {agent.max_steps} steps without a final answer (max_steps)",
                    hint="raise max_steps, or check why the model keeps calling tools",
                )
            timeout = clock.remaining(step)
            node = Node(
                f"step-{step}",
                kind="reason",
                inputs={"messages": "$input.messages", "tools": "$input.tools"},
                config={"provider": provider},
                policy=Policy(timeout=timeout),
            )
            try:
                output = ctx.run_node(node, input={"messages": messages, "tools": specs})
            except NodeError:
                if clock.expired():
                    raise clock.timed_out(step) from None
                raise
            response = ChatResponse.from_dict(output)
            usage = usage + response.usage
            _check_budget(agent, usage, step)
            messages.append(response.assistant_message())
            if not response.tool_calls:
                answer = response.text
                break
            outcomes = run_calls(
                ctx, agent, step, response.tool_calls, targets, clock.remaining(step), replay, replay_tools
            )
            for o in outcomes:
                value = o.value
                if o.ok and isinstance(value, dict) and targets[o.call.name].agent is not None:
                    usage = usage + Usage.from_dict(value.get("usage"))
                    value = {"agent": value.get("agent"), "answer": value.get("answer")}
                value = _for_model(value) if o.ok else value
                messages.append(
                    tool_result_message(
                        o.call.id, o.call.name, value if o.ok else f"error: {value}", is_error=not o.ok
                    )
                )
                if o.ok and isinstance(value, _WithImages):
                    messages[-1]["images"] = value.images
                if memory is not None:
                    memory.session(history_key).add("tool", f"{o.call.name}: {_brief(value) or '(empty)'}")
            _check_budget(agent, usage, step)

        if memory is not None and answer.strip():
            memory.session(history_key).add("assistant", answer)
        remember_ns = agent.remember_namespace
        if memory is not None and remember_ns and replay is None:
            ctx.run_node(
                Node(
                    "remember",
                    kind="memory",
                    inputs={"text": "$input.text"},
                    config={
                        "op": "add",
                        "namespace": remember_ns,
                        "metadata": {"agent": agent.name, "kind": "turn"},
                    },
                ),
                input={"text": f"Q: {request}\nA: {answer}"},
            )
    except BaseException as exc:
        span.set_attributes(_usage_attrs(usage))
        ctx.emit(
            AgentInvocationEvent(
                agent=agent.name,
                request=request,
                response=error_line(exc) if isinstance(exc, Exception) else "interrupted",
                parent_agent=parent,
                status="failed",
                usage=usage.to_dict(),
            )
        )
        raise
    span.set_attributes({**_usage_attrs(usage), conv.AGENT_STEPS: step})
    ctx.emit(
        AgentInvocationEvent(
            agent=agent.name,
            request=request,
            response=answer,
            parent_agent=parent,
            status="succeeded",
            usage=usage.to_dict(),
        )
    )
    out: dict[str, Any] = {"agent": agent.name, "answer": answer, "steps": step, "usage": usage.to_dict()}
    if note:
        out["note"] = note
    return out


def _usage_attrs(usage: Usage) -> dict[str, int]:
    return conv.usage_attributes(usage.input_tokens, usage.output_tokens)


def _check_budget(agent: Agent, usage: Usage, step: int) -> None:
    if agent.max_tokens is not None and usage.total_tokens > agent.max_tokens:
        raise AgentError(
            f"agent {agent.name!r} stopped at step {step}: it used {usage.total_tokens} tokens, "
            f"over its budget of {agent.max_tokens} (max_tokens)"
        )


class _WithImages(str):
    """A tool result's text for the model, carrying the images a multimodal model can take."""

    images: list[dict[str, str]]


def _for_model(value: Any) -> Any:
    """A rich MCP result as text with short stand-ins for its non-text parts (what a model that
    takes no images, like the offline reasoner, sees) plus its images for the providers that do."""
    if not (isinstance(value, dict) and isinstance(value.get("content"), list)):
        return value
    from ..gateway.content import model_parts

    text, images = model_parts(value)
    if not isinstance(text, str):
        return value
    out = _WithImages(text)
    out.images = images
    return out


def _brief(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = ["REPLAY", "REPLAY_TOOLS", "AgentcoreError", "memory_summary", "provider_for", "run_agent"]
