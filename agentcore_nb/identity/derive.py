"""What a node needs: the scopes its token is narrowed to.

A node's ``metadata["scopes"]`` (or ``config["scopes"]``) says it explicitly (a list, or one
space-separated string). Otherwise its kind decides:

==========  =============================================================================
tool        ``tool:NAME`` (and ``code:exec`` for the interpreter's built-in tools)
memory      ``memory:read:NS`` (search; ``memory:read:*`` without a namespace), ``memory:write:NS``
code        ``code:exec`` and ``net:HOST:PORT`` for each ``allow_net`` entry
agent       its tools, ``memory:read`` of its namespace, ``memory:write`` where it remembers, and
            what its sub-agents need (a sub-agent's own token is narrowed again from this one)
other       nothing (a python or reason node crosses no boundary unless it says so)
==========  =============================================================================

Rooms with kinds of their own add a rule with :func:`register_scopes`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..graph.spec import Node
from .scopes import parse_scopes

ScopeRule = Callable[[Node], Iterable[str]]
RULES: dict[str, ScopeRule] = {}

#: The interpreter's gateway tools: their handler calls the interpreter, which checks code:exec.
INTERPRETER_TOOLS = frozenset(
    {"executeCode", "executeCommand", "writeFiles", "readFiles", "listFiles", "removeFiles"}
)


def register_scopes(kind: str, rule: ScopeRule) -> None:
    """Scopes a node of ``kind`` needs when it does not list them itself."""
    RULES[kind] = rule


def node_scopes(node: Node) -> tuple[str, ...]:
    """The scopes ``node`` asks for (validated; :class:`ScopeError` when one is malformed)."""
    declared = node.metadata.get("scopes") if node.metadata else None
    if declared is None:
        declared = node.config.get("scopes")
    if declared is not None:
        return parse_scopes(declared)
    rule = RULES.get(node.kind)
    return parse_scopes(list(rule(node))) if rule is not None else ()


def tool_scopes(name: str) -> list[str]:
    name = name.split("@", 1)[0]
    return [f"tool:{name}", "code:exec"] if name in INTERPRETER_TOOLS else [f"tool:{name}"]


def _tool(node: Node) -> list[str]:
    tool = node.config.get("tool")
    return tool_scopes(tool) if isinstance(tool, str) and tool else []


def _memory(node: Node) -> list[str]:
    ns = node.config.get("namespace")
    op = node.config.get("op", "search")
    if op == "search":
        return [f"memory:read:{ns}" if ns else "memory:read:*"]
    if op == "add":
        return [f"memory:write:{ns or 'default'}"]
    return [f"memory:write:{ns}" if ns else "memory:write:*"]


def _code(node: Node) -> list[str]:
    allow = node.config.get("allow_net") or []
    if isinstance(allow, str):
        allow = [allow]
    out = ["code:exec"]
    for entry in allow:
        if isinstance(entry, str):
            host, _, port = entry.strip().rpartition(":")
            if host and port.isdigit():  # malformed entries are the interpreter's to refuse
                out.append(f"net:{host.lower()}:{int(port)}")
    return out


def agent_scopes(agent: Any) -> list[str]:
    """Scopes an :class:`~agentcore_nb.agent.Agent` (or its JSON form) needs, sub-agents included."""
    if isinstance(agent, dict):
        from ..agent.spec import Agent

        agent = Agent.from_config(agent)
    out: list[str] = []
    for tool in getattr(agent, "tools", None) or []:
        out += tool_scopes(tool)
    ns = getattr(agent, "memory_namespace", None)
    if ns:
        out.append(f"memory:read:{ns}")
    remember = getattr(agent, "remember_namespace", None)
    if remember:
        out.append(f"memory:write:{remember}")
    for sub in getattr(agent, "subagents", None) or []:
        out += agent_scopes(sub)
    return out


def _agent(node: Node) -> list[str]:
    agent = node.config.get("agent")
    if agent is None:
        return []
    try:
        return agent_scopes(agent)
    except Exception:
        return []  # a malformed agent fails in its own executor, with its own message


def agent_name(node: Node) -> str | None:
    """Who acts in ``node``: ``metadata["agent"]``, an ``agent`` node's agent, else None (the node
    acts for its parent)."""
    named = node.metadata.get("agent") if node.metadata else None
    if isinstance(named, str) and named:
        return named
    if node.kind != "agent":
        return None
    agent = node.config.get("agent")
    name = agent.get("name") if isinstance(agent, dict) else getattr(agent, "name", None)
    return name if isinstance(name, str) and name else node.name


register_scopes("tool", _tool)
register_scopes("memory", _memory)
register_scopes("code", _code)
register_scopes("agent", _agent)

__all__ = ["INTERPRETER_TOOLS", "RULES", "agent_scopes", "node_scopes", "register_scopes", "tool_scopes"]
