"""Amazon Bedrock Converse (``converse`` / ``converse_stream`` through boto3, the ``bedrock`` extra).

boto3 is imported when a Bedrock provider is built, never before. The request and response
mappings are plain functions so they are tested without AWS. Credentials and region come from the
usual AWS chain (environment, profile, instance role); this module never reads or shows them.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

from .._jsonschema import inline_refs
from .http import Retry
from .turns import alternating_turns
from .types import ChatResponse, ModelError, Provider, ToolCall, Usage, parse_arguments

RETRY_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "ModelTimeoutException",
        "InternalServerException",
        "ModelNotReadyException",
    }
)
_STOP = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "guardrail_intervened": "content_filtered",
    "content_filtered": "content_filtered",
}


def _result_content(text: str) -> list[dict[str, Any]]:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return [{"text": text}]
    return [{"json": value}] if isinstance(value, dict) else [{"text": text}]


def _tool_result(m: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"toolUseId": m["tool_call_id"], "content": _result_content(m["content"])}
    if m.get("is_error"):
        result["status"] = "error"
    return {"toolResult": result}


def to_converse_request(
    model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]], max_tokens: int | None
) -> dict[str, Any]:
    """The keyword arguments of ``client.converse``."""
    texts, out = alternating_turns(
        messages,
        text=lambda t: {"text": t},
        tool_use=lambda c: {
            "toolUse": {"toolUseId": c["id"], "name": c["name"], "input": c.get("arguments") or {}}
        },
        tool_result=_tool_result,
    )
    system = [{"text": t} for t in texts]
    request: dict[str, Any] = {"modelId": model, "messages": out}
    if system:
        request["system"] = system
    if tools:
        request["toolConfig"] = {
            "tools": [
                {
                    "toolSpec": {
                        "name": t["name"],
                        "description": t["description"] or t["name"],
                        # Converse serves model families whose tool formats may not take $ref
                        "inputSchema": {"json": inline_refs(t["inputSchema"])},
                    }
                }
                for t in tools
            ]
        }
    if max_tokens:
        request["inferenceConfig"] = {"maxTokens": max_tokens}
    return request


def from_converse_response(body: Any, model: str) -> ChatResponse:
    try:
        content = body["output"]["message"]["content"]
    except (KeyError, TypeError):
        raise ModelError("bedrock: the response has no output.message.content") from None
    text: list[str] = []
    calls: list[ToolCall] = []
    for i, block in enumerate(content or []):
        if "text" in block:
            text.append(str(block["text"]))
        elif "toolUse" in block:
            use = block["toolUse"] or {}
            name = use.get("name") or ""
            call_id = use.get("toolUseId") or f"tooluse_{i}"
            if not name:
                calls.append(ToolCall(call_id, "", error="a toolUse block has no name"))
                continue
            args, error = parse_arguments(use.get("input"), name)
            calls.append(ToolCall(call_id, name, args, error))
    usage = body.get("usage") or {}
    stop = body.get("stopReason") or ("tool_use" if calls else "end_turn")
    return ChatResponse(
        text="".join(text),
        tool_calls=calls,
        usage=Usage(int(usage.get("inputTokens") or 0), int(usage.get("outputTokens") or 0)),
        stop_reason=_STOP.get(stop, stop),
        model=model,
        provider="bedrock",
    )


def from_converse_stream(events: Any, model: str) -> Iterator[str | ChatResponse]:
    """Text deltas, then the assembled response, from ``converse_stream``'s event stream."""
    blocks: dict[int, dict[str, Any]] = {}
    stop = ""
    usage: dict[str, Any] = {}
    for event in events:
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            use = (start.get("start") or {}).get("toolUse")
            if use:
                blocks[int(start.get("contentBlockIndex", len(blocks)))] = {"toolUse": dict(use), "_json": ""}
        elif "contentBlockDelta" in event:
            d = event["contentBlockDelta"]
            idx = int(d.get("contentBlockIndex", 0))
            delta = d.get("delta") or {}
            if "text" in delta:
                block = blocks.setdefault(idx, {"text": ""})
                block["text"] = block.get("text", "") + delta["text"]
                if delta["text"]:
                    yield delta["text"]
            elif "toolUse" in delta:
                block = blocks.setdefault(idx, {"toolUse": {}, "_json": ""})
                block["_json"] += str(delta["toolUse"].get("input") or "")
        elif "messageStop" in event:
            stop = event["messageStop"].get("stopReason") or stop
        elif "metadata" in event:
            usage = event["metadata"].get("usage") or usage
    content = []
    for _, block in sorted(blocks.items()):
        raw = block.pop("_json", None)
        if "toolUse" in block:
            block["toolUse"]["input"] = raw or {}
        content.append(block)
    yield from_converse_response(
        {"output": {"message": {"content": content}}, "stopReason": stop or None, "usage": usage}, model
    )


class BedrockProvider(Provider):
    name = "bedrock"

    def __init__(
        self,
        model: str,
        *,
        region: str | None = None,
        client: Any = None,
        retry: Retry | None = None,
        max_tokens: int | None = None,
    ) -> None:
        self.model = model
        self.region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        self.retry = retry or Retry()
        self.max_tokens = max_tokens
        if client is None:
            try:
                import boto3  # type: ignore[import-not-found]
            except ImportError:
                raise ModelError(
                    f"bedrock:{model} needs boto3", hint="pip install 'agentcore-nb[bedrock]'"
                ) from None
            client = boto3.client("bedrock-runtime", region_name=self.region)
        self._client = client

    def _call(self, method: str, request: dict[str, Any]) -> Any:
        last = ""
        for attempt in range(1, self.retry.attempts + 1):
            try:
                return getattr(self._client, method)(**request)
            except Exception as exc:
                code = (
                    getattr(exc, "response", {}).get("Error", {}).get("Code", "")
                    if hasattr(exc, "response")
                    else ""
                )
                last = f"bedrock {self.model}: {code or type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                if code not in RETRY_CODES and "Timeout" not in type(exc).__name__:
                    raise ModelError(last) from None
            if attempt < self.retry.attempts:
                time.sleep(self.retry.delay(attempt))
        raise ModelError(f"{last} (gave up after {self.retry.attempts} attempts)", hint="try again later")

    def _chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int | None,
        key: str | None,
    ) -> ChatResponse:
        request = to_converse_request(self.model, messages, tools, max_tokens or self.max_tokens)
        return from_converse_response(self._call("converse", request), self.model)

    def _stream(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int | None,
        key: str | None,
    ) -> Iterator[str | ChatResponse]:
        request = to_converse_request(self.model, messages, tools, max_tokens or self.max_tokens)
        response = self._call("converse_stream", request)
        yield from from_converse_stream(response.get("stream") or [], self.model)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "region": self.region or ""}
