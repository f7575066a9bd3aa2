"""The one small interface every reasoning provider implements, and the values it speaks.

Messages are plain JSON dicts, so a conversation can be stored in the event log and replayed:

- ``{"role": "system", "content": "..."}`` (a ``memory`` key may carry memory hits as data)
- ``{"role": "user", "content": "..."}``
- ``{"role": "assistant", "content": "...", "tool_calls": [{"id", "name", "arguments"}]}``
- ``{"role": "tool", "tool_call_id": "...", "name": "...", "content": "...", "is_error": bool}``

Tools are MCP-style dicts ``{name, description, inputSchema}`` (anything with ``to_mcp()`` works).
Stop reasons use the Bedrock Converse vocabulary: ``end_turn``, ``tool_use``, ``max_tokens``,
``stop_sequence``, ``content_filtered``.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, overload

from ..errors import AgentcoreError

ROLES = ("system", "user", "assistant", "tool")
STOP_REASONS = ("end_turn", "tool_use", "max_tokens", "stop_sequence", "content_filtered")
#: What ``Provider.kind`` says about a provider (also the ``agentcore.model.kind`` span attribute).
KIND_LLM = "llm"
KIND_OFFLINE = "offline reasoner (not an LLM)"
KIND_REPLAY = "replay of a recorded run"


class ModelError(AgentcoreError):
    """A provider could not answer: unreachable, refused, rate limited, or answered nonsense."""


@dataclass(slots=True)
class ToolCall:
    """One tool call the model asked for. ``error`` is set when the call was malformed."""

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "name": self.name, "arguments": self.arguments}
        if self.error:
            data["error"] = self.error
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToolCall:
        return cls(
            id=str(data.get("id", "")),
            name=str(data.get("name", "")),
            arguments=dict(data.get("arguments") or {}),
            error=str(data.get("error", "")),
        )

    def __iter__(self) -> Iterator[Any]:  # (id, name, arguments), as the brief names it
        return iter((self.id, self.name, self.arguments))


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens)

    def to_dict(self) -> dict[str, int]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Usage:
        data = data or {}
        return cls(int(data.get("input_tokens", 0) or 0), int(data.get("output_tokens", 0) or 0))


@dataclass(slots=True)
class ChatResponse:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    stop_reason: str = "end_turn"
    model: str = ""
    provider: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "tool_calls": [c.to_dict() for c in self.tool_calls],
            "usage": self.usage.to_dict(),
            "stop_reason": self.stop_reason,
            "model": self.model,
            "provider": self.provider,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChatResponse:
        return cls(
            text=str(data.get("text") or ""),
            tool_calls=[ToolCall.from_dict(c) for c in data.get("tool_calls") or []],
            usage=Usage.from_dict(data.get("usage")),
            stop_reason=str(data.get("stop_reason") or "end_turn"),
            model=str(data.get("model") or ""),
            provider=str(data.get("provider") or ""),
        )

    def assistant_message(self) -> dict[str, Any]:
        """This response as the assistant turn of the conversation."""
        msg: dict[str, Any] = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            msg["tool_calls"] = [c.to_dict() for c in self.tool_calls]
        return msg


class ChatStream:
    """Iterate for text deltas as they arrive; ``response`` is the whole answer once exhausted."""

    def __init__(self, events: Iterator[str | ChatResponse]) -> None:
        self._events = events
        self._response: ChatResponse | None = None
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[str]:
        for item in self._events:
            if isinstance(item, ChatResponse):
                self._response = item
            elif item:
                yield item

    @property
    def response(self) -> ChatResponse:
        if self._response is None:
            raise ModelError("the stream has not finished yet", hint="iterate it to the end first")
        return self._response

    def collect(self) -> ChatResponse:
        """Consume the stream and return the assembled response."""
        for _ in self:
            pass
        return self.response


def tool_result_message(call_id: str, name: str, content: Any, *, is_error: bool = False) -> dict[str, Any]:
    """The conversation entry that carries a tool's result (JSON text) back to the model."""
    text = content if isinstance(content, str) else json.dumps(content, default=str, ensure_ascii=False)
    return {"role": "tool", "tool_call_id": call_id, "name": name, "content": text, "is_error": is_error}


def normalize_messages(messages: str | Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Check a conversation; a bare string is one user message. One-line errors for bad input."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if not isinstance(messages, Sequence) or not messages:
        raise ModelError("messages must be a non-empty list of {role, content} dicts (or a string)")
    out = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise ModelError(f"message {i} is a {type(msg).__name__}, not a dict")
        role = msg.get("role")
        if role not in ROLES:
            raise ModelError(f"message {i} has role {role!r}", hint=f"use one of {', '.join(ROLES)}")
        content = msg.get("content")
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise ModelError(f"message {i} ({role}): content must be a string")
        if role == "tool" and not msg.get("tool_call_id"):
            raise ModelError(f"message {i} (tool): tool_call_id is missing")
        out.append({**msg, "content": content})
    return out


def normalize_tools(tools: Sequence[Any] | None) -> list[dict[str, Any]]:
    """MCP-style tool dicts (or objects with ``to_mcp()``), checked."""
    out: list[dict[str, Any]] = []
    for i, tool in enumerate(tools or ()):
        if hasattr(tool, "to_mcp"):
            tool = tool.to_mcp()
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not tool["name"]:
            raise ModelError(f"tool {i} must be a dict with a name, description and inputSchema")
        schema = tool.get("inputSchema") or {"type": "object", "properties": {}}
        if not isinstance(schema, dict):
            raise ModelError(f"tool {tool['name']}: inputSchema must be a JSON Schema object")
        out.append(
            {"name": tool["name"], "description": str(tool.get("description") or ""), "inputSchema": schema}
        )
    return out


def parse_arguments(raw: Any, name: str) -> tuple[dict[str, Any], str]:
    """A tool call's arguments as a dict, or ``({}, error)`` when the model sent something malformed."""
    if isinstance(raw, dict):
        return raw, ""
    if raw is None or raw == "":
        return {}, ""
    if not isinstance(raw, str):
        return {}, f"arguments of {name} must be a JSON object, got {type(raw).__name__}"
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return {}, f"arguments of {name} are not valid JSON ({exc.msg} at char {exc.pos})"
    if not isinstance(value, dict):
        return {}, f"arguments of {name} must be a JSON object, got {type(value).__name__}"
    return value, ""


class Provider(ABC):
    """A reasoning provider: ``chat(messages, tools)`` -> :class:`ChatResponse` (or a stream)."""

    #: Short provider id (``openai``, ``anthropic``, ``bedrock``, ``offline``, ``replay``).
    name: str = "provider"
    model: str = ""
    kind: str = KIND_LLM

    @property
    def is_llm(self) -> bool:
        """True for a real language model (``complete_text`` and memory summaries need one)."""
        return self.kind == KIND_LLM

    @property
    def spec(self) -> str:
        return f"{self.name}:{self.model}" if self.model else self.name

    @overload
    def chat(
        self,
        messages: str | Sequence[dict[str, Any]],
        tools: Sequence[Any] | None = ...,
        *,
        stream: Literal[False] = ...,
        max_tokens: int | None = ...,
        key: str | None = ...,
    ) -> ChatResponse: ...

    @overload
    def chat(
        self,
        messages: str | Sequence[dict[str, Any]],
        tools: Sequence[Any] | None = ...,
        *,
        stream: Literal[True],
        max_tokens: int | None = ...,
        key: str | None = ...,
    ) -> ChatStream: ...

    def chat(
        self,
        messages: str | Sequence[dict[str, Any]],
        tools: Sequence[Any] | None = None,
        *,
        stream: bool = False,
        max_tokens: int | None = None,
        key: str | None = None,
    ) -> ChatResponse | ChatStream:
        """Ask the model. ``key`` names the call in its run (the node id); replay matches on it."""
        msgs = normalize_messages(messages)
        specs = normalize_tools(tools)
        if max_tokens is not None and (
            isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
        ):
            raise ModelError(f"max_tokens must be a positive integer, got {max_tokens!r}")
        if stream:
            return ChatStream(self._stream(msgs, specs, max_tokens, key))
        return self._chat(msgs, specs, max_tokens, key)

    @abstractmethod
    def _chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int | None,
        key: str | None,
    ) -> ChatResponse: ...

    def _stream(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int | None,
        key: str | None,
    ) -> Iterator[str | ChatResponse]:
        """Providers without native streaming answer in one delta."""
        response = self._chat(messages, tools, max_tokens, key)
        if response.text:
            yield response.text
        yield response

    def describe(self) -> dict[str, Any]:
        """What is safe to show about this provider (never a key)."""
        return {"provider": self.name, "model": self.model, "kind": self.kind}

    def close(self) -> None:  # noqa: B027  (optional hook; most providers hold nothing)
        """Release connections."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec}>"
