"""Chat messages as the providers with strictly alternating turns want them (Anthropic Messages,
Bedrock Converse): one shape of walk, each provider giving its own block formats."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Block = dict[str, Any]


def alternating_turns(
    messages: list[dict[str, Any]],
    *,
    text: Callable[[str], Block],
    tool_use: Callable[[dict[str, Any]], Block],
    tool_result: Callable[[dict[str, Any]], Block],
) -> tuple[list[str], list[dict[str, Any]]]:
    """``(system texts, turns)``: tool results go into user turns, an assistant's text and tool
    calls into one turn, and turns of the same role are merged (the APIs reject two in a row).
    An empty user turn is sent as ``" "`` (the APIs reject empty text)."""
    system: list[str] = []
    out: list[dict[str, Any]] = []

    def push(role: str, blocks: list[Block]) -> None:
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for m in messages:
        role = m["role"]
        if role == "system":
            if m["content"]:
                system.append(m["content"])
        elif role == "tool":
            push("user", [tool_result(m)])
        elif role == "assistant":
            blocks = [text(m["content"])] if m["content"] else []
            blocks += [tool_use(c) for c in m.get("tool_calls") or []]
            if blocks:
                push("assistant", blocks)
        else:
            push("user", [text(m["content"] or " ")])
    return system, out


__all__ = ["alternating_turns"]
