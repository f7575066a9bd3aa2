"""Bedrock Converse: the request and response mappings (no AWS involved)."""

from __future__ import annotations

import sys

import pytest

from agentcore_nb.models import ModelError, build_provider
from agentcore_nb.models.bedrock import from_converse_response, from_converse_stream, to_converse_request
from agentcore_nb.models.types import normalize_messages, normalize_tools, tool_result_message

TOOL = {
    "name": "getOrderStatus",
    "description": "Order status",
    "inputSchema": {"type": "object", "properties": {"order_id": {"type": "string"}}},
}


def test_request_mapping() -> None:
    msgs = normalize_messages(
        [
            {"role": "system", "content": "You help customers."},
            {"role": "system", "content": "Memory: 3 refunds."},
            {"role": "user", "content": "Where is 1234?"},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [{"id": "t1", "name": "getOrderStatus", "arguments": {"order_id": "1234"}}],
            },
            tool_result_message("t1", "getOrderStatus", {"status": "delivered"}),
            tool_result_message("t2", "other", "boom", is_error=True),
        ]
    )
    req = to_converse_request("anthropic.claude-3-haiku", msgs, normalize_tools([TOOL]), 300)
    assert req["modelId"] == "anthropic.claude-3-haiku"
    assert req["system"] == [{"text": "You help customers."}, {"text": "Memory: 3 refunds."}]
    assert req["inferenceConfig"] == {"maxTokens": 300}
    assert req["toolConfig"]["tools"][0]["toolSpec"] == {
        "name": "getOrderStatus",
        "description": "Order status",
        "inputSchema": {"json": TOOL["inputSchema"]},
    }
    user, assistant, results = req["messages"]
    assert user == {"role": "user", "content": [{"text": "Where is 1234?"}]}
    assert assistant["content"] == [
        {"text": "Checking."},
        {"toolUse": {"toolUseId": "t1", "name": "getOrderStatus", "input": {"order_id": "1234"}}},
    ]
    assert results["role"] == "user"  # both tool results folded into one user turn
    assert results["content"][0] == {
        "toolResult": {"toolUseId": "t1", "content": [{"json": {"status": "delivered"}}]}
    }
    assert results["content"][1] == {
        "toolResult": {"toolUseId": "t2", "content": [{"text": "boom"}], "status": "error"}
    }


def test_response_mapping() -> None:
    body = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"text": "Let me look."},
                    {"toolUse": {"toolUseId": "tu1", "name": "getOrderStatus", "input": {"order_id": "9"}}},
                    {"toolUse": {"toolUseId": "tu2", "input": {}}},
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 40, "outputTokens": 12, "totalTokens": 52},
    }
    r = from_converse_response(body, "m")
    assert r.text == "Let me look."
    assert r.tool_calls[0].to_dict() == {
        "id": "tu1",
        "name": "getOrderStatus",
        "arguments": {"order_id": "9"},
    }
    assert r.tool_calls[1].error == "a toolUse block has no name"
    assert (r.usage.input_tokens, r.usage.output_tokens, r.stop_reason) == (40, 12, "tool_use")
    assert (
        from_converse_response(
            {"output": {"message": {"content": []}}, "stopReason": "guardrail_intervened"}, "m"
        ).stop_reason
        == "content_filtered"
    )
    with pytest.raises(ModelError, match="no output.message.content"):
        from_converse_response({"nope": 1}, "m")


def test_stream_mapping() -> None:
    events = [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Look"}}},
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "ing"}}},
        {
            "contentBlockStart": {
                "contentBlockIndex": 1,
                "start": {"toolUse": {"toolUseId": "x1", "name": "getOrderStatus"}},
            }
        },
        {"contentBlockDelta": {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"order_'}}}},
        {"contentBlockDelta": {"contentBlockIndex": 1, "delta": {"toolUse": {"input": 'id": "5"}'}}}},
        {"messageStop": {"stopReason": "tool_use"}},
        {"metadata": {"usage": {"inputTokens": 3, "outputTokens": 4}}},
    ]
    out = list(from_converse_stream(events, "m"))
    assert out[:2] == ["Look", "ing"]
    final = out[-1]
    assert final.text == "Looking"
    assert final.tool_calls[0].arguments == {"order_id": "5"}
    assert final.usage.output_tokens == 4


def test_bedrock_without_boto3_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(ModelError, match=r"needs boto3 \(pip install 'agentcore-nb\[bedrock\]'\)"):
        build_provider("bedrock:anthropic.claude-3-haiku-20240307-v1:0")


def test_bedrock_spec_keeps_colons_in_the_model_id() -> None:
    from agentcore_nb.models import parse_spec

    assert parse_spec("bedrock:anthropic.claude-3-haiku-20240307-v1:0") == (
        "bedrock",
        "anthropic.claude-3-haiku-20240307-v1:0",
    )
