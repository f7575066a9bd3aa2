"""OpenAI-compatible chat completions (``POST {base_url}/chat/completions``), with tools and SSE.

The base URL is configurable, so the same client serves OpenAI, Ollama (``/v1``), vLLM and the
llama.cpp server.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from .http import HTTPChat, Redactor, Retry, load_event, safe_url
from .types import ChatResponse, ModelError, Provider, ToolCall, Usage, parse_arguments

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_STOP = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "content_filter": "content_filtered",
}


def _images_message(pending: list[tuple[str, dict[str, str]]]) -> dict[str, Any]:
    """Chat Completions takes images in user turns only (a tool turn is text): the images tool
    results returned follow the tool turns as one user turn of ``image_url`` data URLs."""
    parts: list[dict[str, Any]] = []
    for name, image in pending:
        parts.append({"type": "text", "text": f"Image returned by tool {name}:"})
        url = f"data:{image['mime_type']};base64,{image['data']}"
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return {"role": "user", "content": parts}


def to_openai_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    pending: list[tuple[str, dict[str, str]]] = []
    for m in messages:
        role = m["role"]
        if pending and role != "tool":
            out.append(_images_message(pending))
            pending = []
        if role == "assistant" and m.get("tool_calls"):
            out.append(
                {
                    "role": "assistant",
                    "content": m["content"] or None,
                    "tool_calls": [
                        {
                            "id": c["id"],
                            "type": "function",
                            "function": {
                                "name": c["name"],
                                "arguments": json.dumps(c.get("arguments") or {}),
                            },
                        }
                        for c in m["tool_calls"]
                    ],
                }
            )
        elif role == "tool":
            out.append({"role": "tool", "tool_call_id": m["tool_call_id"], "content": m["content"]})
            pending += [(m.get("name", ""), image) for image in m.get("images") or []]
        else:
            out.append({"role": role, "content": m["content"]})
    if pending:
        out.append(_images_message(pending))
    return out


def to_openai_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": t["name"], "description": t["description"], "parameters": t["inputSchema"]},
        }
        for t in tools
    ]


def _tool_call(raw: Any, index: int) -> ToolCall:
    if not isinstance(raw, dict):
        return ToolCall(id=f"call_{index}", name="", error="a tool call is not an object")
    fn: dict[str, Any] = raw["function"] if isinstance(raw.get("function"), dict) else {}
    name = str(fn["name"]) if isinstance(fn.get("name"), str) else ""
    call_id = str(raw["id"]) if isinstance(raw.get("id"), str) and raw["id"] else f"call_{index}"
    if not name:
        return ToolCall(id=call_id, name="", error="a tool call has no function name")
    args, error = parse_arguments(fn.get("arguments"), name)
    return ToolCall(id=call_id, name=name, arguments=args, error=error)


def from_openai_response(body: Any, model: str) -> ChatResponse:
    """Map a chat-completions body; malformed tool calls come back with ``error`` set."""
    try:
        choice = body["choices"][0]
        message = choice.get("message") or {}
    except (KeyError, IndexError, TypeError, AttributeError):
        raise ModelError("openai: the response has no choices[0].message") from None
    raw_calls = message.get("tool_calls") or []
    calls = [
        _tool_call(c, i) for i, c in enumerate(raw_calls if isinstance(raw_calls, list) else [raw_calls])
    ]
    usage = body.get("usage") or {}
    finish = choice.get("finish_reason") or ("tool_calls" if calls else "stop")
    content = message.get("content")
    return ChatResponse(
        text=content if isinstance(content, str) else "",
        tool_calls=calls,
        usage=Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)),
        stop_reason=_STOP.get(finish, finish),
        model=str(body.get("model") or model),
        provider="openai",
    )


class OpenAIProvider(Provider):
    name = "openai"

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
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        if not key and self.base_url == DEFAULT_BASE_URL:
            raise ModelError(
                f"openai:{model} needs an API key",
                hint="set OPENAI_API_KEY, or OPENAI_BASE_URL for a local OpenAI-compatible server",
            )
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.max_tokens = max_tokens
        self._http = HTTPChat(
            f"openai {model}", self.base_url, headers, timeout=timeout, retry=retry, redact=Redactor(key)
        )

    def _body(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], max_tokens: int | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": to_openai_messages(messages)}
        if tools:
            body["tools"] = to_openai_tools(tools)
        limit = max_tokens or self.max_tokens
        if limit:
            body["max_tokens"] = limit
        return body

    def _chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int | None,
        key: str | None,
    ) -> ChatResponse:
        return from_openai_response(
            self._http.post_json("/chat/completions", self._body(messages, tools, max_tokens)), self.model
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
        body["stream_options"] = {"include_usage": True}
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        finish = ""
        usage = Usage()
        model = self.model
        with self._http.stream("/chat/completions", body) as events:
            for _, data in events:
                if data.strip() == "[DONE]":
                    break
                chunk = load_event(self._http.what, data)
                if isinstance(chunk.get("error"), dict):
                    raise ModelError(
                        self._http.redact(f"{self._http.what}: {chunk['error'].get('message', 'error')}")
                    )
                model = str(chunk.get("model") or model)
                if chunk.get("usage"):
                    u = chunk["usage"]
                    usage = Usage(int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0))
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    piece = delta.get("content")
                    if isinstance(piece, str) and piece:
                        text.append(piece)
                        yield piece
                    for tc in delta.get("tool_calls") or []:
                        slot = calls.setdefault(
                            int(tc.get("index", len(calls))), {"id": "", "name": "", "arguments": ""}
                        )
                        slot["id"] = tc.get("id") or slot["id"]
                        fn = tc.get("function") or {}
                        slot["name"] += fn.get("name") or ""
                        slot["arguments"] += fn.get("arguments") or ""
                    finish = choice.get("finish_reason") or finish
        tool_calls = [
            _tool_call({"id": s["id"], "function": {"name": s["name"], "arguments": s["arguments"]}}, i)
            for i, s in sorted(calls.items())
        ]
        finish = finish or ("tool_calls" if tool_calls else "stop")
        yield ChatResponse("".join(text), tool_calls, usage, _STOP.get(finish, finish), model, "openai")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "base_url": safe_url(self.base_url)}

    def close(self) -> None:
        self._http.close()
