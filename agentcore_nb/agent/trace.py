"""A compact, indented trace of an agent run, folded from its events (what ``%agent`` prints)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..events import Event
from ..observability import conventions as conv
from ..values import decode_value


@dataclass(slots=True)
class _Row:
    node_id: str
    kind: str = ""
    status: str = "running"
    attempts: int = 0
    ms: float = 0.0
    output: Any = None
    error: str = ""
    replayed: bool = False
    children: list[str] = field(default_factory=list)


def _short(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _what(row: _Row) -> tuple[str, str]:
    """(operation + name, detail) for one node."""
    name = row.node_id.rsplit("/", 1)[-1]
    out = row.output
    if row.kind == "memory":
        if name == "remember" or (isinstance(out, list) and out and isinstance(out[0], str)):
            return conv.span_name(conv.UPDATE_MEMORY, name), f"{len(out or [])} record(s) written"
        count = len(out) if isinstance(out, list) else 0
        return conv.span_name(conv.SEARCH_MEMORY, name), f"{count} hit(s)"
    if row.kind == "reason":
        model = out.get("model", "") if isinstance(out, dict) else ""
        calls = [c.get("name", "?") for c in out.get("tool_calls", [])] if isinstance(out, dict) else []
        detail = ("-> " + ", ".join(calls)) if calls else "answer"
        if isinstance(out, dict):
            u = out.get("usage") or {}
            detail += f"  [{u.get('input_tokens', 0)}/{u.get('output_tokens', 0)} tok]"
        return conv.span_name(conv.CHAT, model or name), f"{name}: {detail}"
    if row.kind == "agent":
        label = out.get("agent", name) if isinstance(out, dict) else name
        return conv.span_name(conv.INVOKE_AGENT, label), (
            f"{out.get('steps', '?')} step(s)" if isinstance(out, dict) else ""
        )
    tool = name.split("-", 3)[-1] if name.startswith("step-") else name
    return conv.span_name(conv.OPERATIONS.get(row.kind, row.kind), tool), _short(
        out, 70
    ) if row.status == "succeeded" else ""


def compact_trace(events: Iterable[Event], width: int = 110) -> str:
    """One line per node, indented by nesting: operation, name, status, time, detail."""
    rows: dict[str, _Row] = {}
    roots: list[str] = []
    header = ""
    usage = {"input_tokens": 0, "output_tokens": 0}
    for e in events:
        t = e.type
        if (
            t == "AgentInvocationEvent"
            and getattr(e, "status", "") != "started"
            and not getattr(e, "parent_agent", "")
        ):
            usage = getattr(e, "usage", usage) or usage
        if not e.node_id:
            if t == "RunExecuted":
                header = f"{getattr(e, 'status', '')}  {getattr(e, 'duration_ms', 0.0):.0f} ms"
            continue
        row = rows.get(e.node_id)
        if row is None:
            row = rows[e.node_id] = _Row(e.node_id)
            parent = e.node_id.rsplit("/", 1)[0] if "/" in e.node_id else ""
            if parent in rows:
                rows[parent].children.append(e.node_id)
            else:
                roots.append(e.node_id)
        if t == "NodeStarted":
            row.kind = getattr(e, "kind", row.kind)
            row.attempts = max(row.attempts, getattr(e, "attempt", 1))
        elif t == "NodeSucceeded":
            row.status = "ok"
            row.ms += getattr(e, "duration_ms", 0.0)
            try:
                row.output = decode_value(getattr(e, "output", None))
            except Exception:
                row.output = None
            row.status = "succeeded"
        elif t == "NodeFailed":
            row.ms += getattr(e, "duration_ms", 0.0)
            if getattr(e, "final", True):
                row.status = "failed"
                row.error = getattr(e, "error", "")
        elif t == "NodeSkipped" and row.status != "failed":  # a handled failure stays "failed"
            row.status = "skipped"
        elif t == "ActionEvent" and (getattr(e, "attributes", {}) or {}).get("replayed"):
            row.replayed = True
    lines = [
        f"trace  {header}  tokens in {usage.get('input_tokens', 0)} / out {usage.get('output_tokens', 0)}".rstrip()
    ]

    def walk(node_id: str, depth: int) -> None:
        row = rows[node_id]
        what, detail = _what(row)
        status = row.status if row.status != "succeeded" else "ok"
        if row.attempts > 1:
            status += f" x{row.attempts}"
        if row.replayed:
            status += " (replayed)"
        if row.status == "failed":
            detail = row.error
        line = f"{'  ' * (depth + 1)}{what:<{max(10, 34 - 2 * depth)}} {status:<8} {row.ms:8.1f} ms  {detail}".rstrip()
        lines.append(line if len(line) <= width else line[: width - 3] + "...")
        for child in row.children:
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return "\n".join(lines)
