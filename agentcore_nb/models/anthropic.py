"""Anthropic Messages (``POST {base_url}/v1/messages``): ``tool_use`` blocks, SSE streaming."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from .http import HTTPChat, Redactor, Retry, load_event, safe_url
from .turns import alternating_turns
from .types import ChatResponse, ModelError, Provider, ToolCall, Usage, parse_arguments

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024
_STOP = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "refusal": "content_filtered",
}


def _tool_result(m: dict[str, Any]) -> dict[str, Any]:
    content: Any = m["content"]
    if m.get("images"):  # a tool_result takes image blocks beside its text
        content = [{"type": "text", "text": m["content"] or " "}] + [
            {"type": "image", "source": {"type": "base64", "media_type": i["mime_type"], "data": i["data"]}}
            for i in m["images"]
        ]
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": m["tool_call_id"], "content": content}
    if m.get("is_error"):
        block["is_error"] = True
    return block


def to_anthropic(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """``(system, messages)``: system turns joined; tool results folded into user turns; turns of
    the same role merged (the API wants them alternating)."""
    system, out = alternating_turns(
        messages,
        text=lambda t: {"type": "text", "text": t},
        tool_use=lambda c: {
            "type": "tool_use",
            "id": c["id"],
            "name": c["name"],
            "input": c.get("arguments") or {},
        },
        tool_result=_tool_result,
    )
    return "\n\n".join(system), out


def to_anthropic_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"name": t["name"], "description": t["description"], "input_schema": t["inputSchema"]} for t in tools
    ]


def _tool_use(block: dict[str, Any], index: int) -> ToolCall:
    name = str(block["name"]) if isinstance(block.get("name"), str) else ""
    call_id = str(block["id"]) if isinstance(block.get("id"), str) and block["id"] else f"toolu_{index}"
    if not name:
        return ToolCall(id=call_id, name="", error="a tool_use block has no name")
    args, error = parse_arguments(block.get("input"), name)
    return ToolCall(id=call_id, name=name, arguments=args, error=error)


def from_anthropic_response(body: Any, model: str) -> ChatResponse:
    if not isinstance(body, dict) or not isinstance(body.get("content"), list):
        raise ModelError("anthropic: the response has no content list")
    text: list[str] = []
    calls: list[ToolCall] = []
    for i, block in enumerate(body["content"]):
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            text.append(str(block.get("text") or ""))
        elif block.get("type") == "tool_use":
            calls.append(_tool_use(block, i))
    usage = body.get("usage") or {}
    stop = body.get("stop_reason") or ("tool_use" if calls else "end_turn")
    return ChatResponse(
        text="".join(text),
        tool_calls=calls,
        usage=Usage(int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)),
        stop_reason=_STOP.get(stop, stop),
        model=str(body.get("model") or model),
        provider="anthropic",
    )


class AnthropicProvider(Provider):
    name = "anthropic"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        retry: Retry | None = None,
        max_tokens: int | None = None,
    ) -> None:
        self.model = model
        self.base_url = (base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        key = api_key if api_key is not None else os.environ.get("ANTHROPIC_API_KEY", "")
        if not key and self.base_url == DEFAULT_BASE_URL:
            raise ModelError(f"anthropic:{model} needs an API key", hint="set ANTHROPIC_API_KEY")
        headers = {"anthropic-version": API_VERSION}
        if key:
            headers["x-api-key"] = key
        self.max_tokens = max_tokens or DEFAULT_MAX_TOKENS
        self._http = HTTPChat(
            f"anthropic {model}", self.base_url, headers, timeout=timeout, retry=retry, redact=Redactor(key)
        )

    def _body(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], max_tokens: int | None
    ) -> dict[str, Any]:
        system, msgs = to_anthropic(messages)
        if not msgs:
            raise ModelError("anthropic: the conversation has no user message")
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens or self.max_tokens,
            "messages": msgs,
        }
        if system:
            body["system"] = system
        if tools:
            body["tools"] = to_anthropic_tools(tools)
        return body

    def _chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int | None,
        key: str | None,
    ) -> ChatResponse:
        return from_anthropic_response(
            self._http.post_json("/v1/messages", self._body(messages, tools, max_tokens)), self.model
        )

    def _stream(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int | None,
        key: str | None,
    ) -> Iterator[str | ChatResponse]:
        body = self._body(messages, tools, max_tokens)
        body["stream"] = True
        blocks: dict[int, dict[str, Any]] = {}
        usage = Usage()
        stop = ""
        model = self.model
        with self._http.stream("/v1/messages", body) as events:
            for name, data in events:
                event = load_event(self._http.what, data)
                kind = event.get("type") or name
                if kind == "message_start":
                    msg = event.get("message") or {}
                    model = str(msg.get("model") or model)
                    u = msg.get("usage") or {}
                    usage = Usage(int(u.get("input_tokens") or 0), int(u.get("output_tokens") or 0))
                elif kind == "content_block_start":
                    block = dict(event.get("content_block") or {})
                    block["_json"] = ""
                    blocks[int(event.get("index", len(blocks)))] = block
                elif kind == "content_block_delta":
                    block = blocks.setdefault(
                        int(event.get("index", 0)), {"type": "text", "text": "", "_json": ""}
                    )
                    delta = event.get("delta") or {}
                    if delta.get("type") == "text_delta":
                        piece = str(delta.get("text") or "")
                        block["text"] = str(block.get("text") or "") + piece
                        if piece:
                            yield piece
                    elif delta.get("type") == "input_json_delta":
                        block["_json"] += str(delta.get("partial_json") or "")
                elif kind == "message_delta":
                    stop = (event.get("delta") or {}).get("stop_reason") or stop
                    u = event.get("usage") or {}
                    if "output_tokens" in u:
                        usage = Usage(
                            usage.input_tokens or int(u.get("input_tokens") or 0),
                            int(u["output_tokens"] or 0),
                        )
                elif kind == "error":
                    err = event.get("error") or {}
                    raise ModelError(
                        self._http.redact(
                            f"{self._http.what}: {err.get('type', 'error')}: {err.get('message', '')}"
                        )
                    )
                elif kind == "message_stop":
                    break
        content = []
        for _, block in sorted(blocks.items()):
            raw = block.pop("_json", "")
            if block.get("type") == "tool_use" and raw:
                try:
                    block["input"] = json.loads(raw)
                except json.JSONDecodeError:
                    block["input"] = raw  # reported as malformed by from_anthropic_response
            content.append(block)
        yield from_anthropic_response(
            {"content": content, "usage": usage_dict(usage), "stop_reason": stop or None, "model": model},
            self.model,
        )

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "base_url": safe_url(self.base_url)}

    def close(self) -> None:
        self._http.close()


def usage_dict(usage: Usage) -> dict[str, int]:
    return {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}
