"""The ``reason`` node kind: one model call as a graph step (span ``chat MODEL``).

Config: ``model`` (``PROVIDER:MODEL``; default: the ``models`` service's default), ``base_url``,
``system`` (instructions), ``prompt`` (a template; ``{name}`` is replaced by the node input of
that name), ``tools`` (tool names looked up in the gateway), ``max_tokens``; in-process only,
``provider`` (a :class:`Provider` object). Inputs: ``messages`` (a conversation) or the prompt's
variables, and ``tools`` (MCP tool dicts). Without either, the run input is the request.

The output is the response as a dict (text, tool_calls, usage, stop_reason, model, provider): it
is what the event log records, and what replay answers from.

Run-wide settings, read from ``ctx.run.state``: ``models.override`` (a provider every reason node
of the run uses, e.g. replay) and ``models.stream`` (``fn(node_id, text_delta)``: stream text).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..graph.spec import Node
from ..observability import conventions as conv
from ..runtime.context import NodeContext
from ..runtime.executors import Body, register_executor
from . import model_service
from .http import safe_url
from .types import ChatResponse, ModelError, Provider

OVERRIDE = "models.override"
STREAM = "models.stream"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def provider_for(ctx: NodeContext, config: dict[str, Any]) -> Provider:
    """The run's override, else the node's provider object or name, else the configured default."""
    override = ctx.run.state.get(OVERRIDE)
    if isinstance(override, Provider):
        return override
    given = config.get("provider")
    if isinstance(given, Provider):
        return given
    return model_service(ctx.services).provider(config.get("model"), base_url=config.get("base_url"))


def _fill(template: str, inputs: dict[str, Any]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in inputs:
            return m.group(0)
        value = inputs[m.group(1)]
        return value if isinstance(value, str) else json.dumps(value, default=str)

    return _PLACEHOLDER.sub(sub, template)


def messages_for(ctx: NodeContext, config: dict[str, Any], inputs: dict[str, Any]) -> list[dict[str, Any]]:
    if inputs.get("messages") is not None:
        messages = inputs["messages"]
        if not isinstance(messages, list):
            raise ModelError("the 'messages' input of a reason node must be a list of messages")
        return list(messages)
    variables = {k: v for k, v in inputs.items() if k not in ("tools",)}
    if config.get("prompt"):
        request = _fill(str(config["prompt"]), variables)
    elif variables:
        request = (
            json.dumps(variables, default=str)
            if len(variables) != 1
            else _text(next(iter(variables.values())))
        )
    else:
        request = _text(ctx.input)
    out = [{"role": "system", "content": str(config["system"])}] if config.get("system") else []
    out.append({"role": "user", "content": request})
    return out


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for k in ("prompt", "request", "question", "input", "message"):
            if isinstance(value.get(k), str):
                return str(value[k])
    return json.dumps(value, default=str)


def tools_for(ctx: NodeContext, config: dict[str, Any], inputs: dict[str, Any]) -> list[Any]:
    if inputs.get("tools") is not None:
        return list(inputs["tools"])
    names = config.get("tools") or []
    if not names:
        return []
    try:
        gateway = ctx.services["gateway"]
    except KeyError:
        raise ModelError("a reason node with tools needs the 'gateway' service") from None
    return [gateway.get(n).to_mcp() for n in names]


def chat(
    ctx: NodeContext,
    provider: Provider,
    messages: list[dict[str, Any]],
    tools: list[Any],
    max_tokens: int | None,
) -> ChatResponse:
    """One model call with the node's span annotated (GenAI conventions) and text streamed if asked."""
    span = ctx.span
    span.update_name(conv.span_name(conv.CHAT, provider.model or provider.name))
    attrs: dict[str, Any] = {
        conv.OPERATION: conv.CHAT,
        conv.PROVIDER: provider.name,
        conv.SYSTEM: provider.name,
        conv.REQUEST_MODEL: provider.model,
        **conv.content_attributes(input_messages=messages),
        conv.MODEL_KIND: provider.kind,
    }
    url = getattr(provider, "base_url", None)
    if isinstance(url, str):
        attrs[conv.SERVER_ADDRESS] = safe_url(url)
    if max_tokens:
        attrs[conv.REQUEST_MAX_TOKENS] = max_tokens
    span.set_attributes(attrs)
    sink = ctx.run.state.get(STREAM)
    if callable(sink):
        stream = provider.chat(messages, tools, stream=True, max_tokens=max_tokens, key=ctx.node_id)
        for delta in stream:
            sink(ctx.node_id, delta)
        response = stream.response
    else:
        response = provider.chat(messages, tools, max_tokens=max_tokens, key=ctx.node_id)
    span.set_attributes(
        {
            conv.RESPONSE_MODEL: response.model or provider.model,
            **conv.usage_attributes(response.usage.input_tokens, response.usage.output_tokens),
            **conv.content_attributes(output_messages=response.to_dict()),
            conv.FINISH_REASONS: [response.stop_reason],
            conv.MODEL_TOOL_CALLS: len(response.tool_calls),
        }
    )
    return response


def validate_reason_node(node: Node) -> list[str]:
    cfg = node.config
    problems = []
    model = cfg.get("model")
    if model is not None:
        from .config import parse_spec

        try:
            parse_spec(model)
        except ModelError as exc:
            problems.append(f"config.model: {exc.message}")
    for key in ("system", "prompt", "base_url"):
        if cfg.get(key) is not None and not isinstance(cfg[key], str):
            problems.append(f"config.{key} must be a string")
    tools = cfg.get("tools")
    if tools is not None and (not isinstance(tools, list) or not all(isinstance(t, str) for t in tools)):
        problems.append("config.tools must be a list of tool names")
    mt = cfg.get("max_tokens")
    if mt is not None and (isinstance(mt, bool) or not isinstance(mt, int) or mt < 1):
        problems.append(f"config.max_tokens must be a positive integer, got {mt!r}")
    provider = cfg.get("provider")
    if provider is not None and not isinstance(provider, Provider):
        problems.append("config.provider must be a Provider object (use config.model for a name)")
    return problems


class ReasonExecutor:
    kind = "reason"

    def prepare(self, node: Node) -> Body:
        config = dict(node.config)

        def run(ctx: NodeContext, inputs: dict[str, Any]) -> dict[str, Any]:
            provider = provider_for(ctx, config)
            messages = messages_for(ctx, config, inputs)
            tools = tools_for(ctx, config, inputs)
            return chat(ctx, provider, messages, tools, config.get("max_tokens")).to_dict()

        label = config.get("model") or getattr(config.get("provider"), "model", "") or "model"
        return Body(run, operation=conv.CHAT, span_name=conv.span_name(conv.CHAT, label))


register_executor(ReasonExecutor(), validator=validate_reason_node)
