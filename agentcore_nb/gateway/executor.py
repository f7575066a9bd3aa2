"""The ``tool`` node kind: a gateway call as a graph step.

Config: ``tool`` (``NAME`` or ``NAME@VERSION``), ``arguments`` (fixed ones); the node's inputs are
merged over them. The span is the gateway's ``execute_tool NAME`` (the node span is its parent).
"""

from __future__ import annotations

from typing import Any

from ..graph.spec import Node
from ..observability import conventions as conv
from ..runtime.context import NodeContext
from ..runtime.executors import Body, register_executor
from .spec import ToolError


def gateway_of(ctx: NodeContext) -> Any:
    try:
        return ctx.services["gateway"]
    except KeyError:
        raise ToolError("tool nodes need a project runtime (the 'gateway' service)") from None


def validate(node: Node) -> list[str]:
    tool = node.config.get("tool")
    if not isinstance(tool, str) or not tool:
        return [f"node '{node.name}': a tool node needs config.tool (the tool's name)"]
    if not isinstance(node.config.get("arguments", {}), dict):
        return [f"node '{node.name}': config.arguments must be an object"]
    return []


class ToolExecutor:
    kind = "tool"

    def prepare(self, node: Node) -> Body:
        tool = node.config["tool"]
        fixed = dict(node.config.get("arguments") or {})

        def call(ctx: NodeContext, inputs: dict[str, Any]) -> Any:
            return gateway_of(ctx).call(tool, {**fixed, **inputs}, token=ctx.token, ctx=ctx)

        return Body(call, operation=conv.EXECUTE_TOOL, attributes={conv.TOOL_NAME: tool})


register_executor(ToolExecutor(), validator=validate)
