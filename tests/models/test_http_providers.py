"""The OpenAI-compatible and Anthropic clients against real local servers speaking their wire formats."""

from __future__ import annotations

import json

import pytest

from agentcore_nb.models import ModelError, Retry, tool_result_message
from agentcore_nb.models.anthropic import AnthropicProvider
from agentcore_nb.models.openai import OpenAIProvider

from .fakes import FakeAnthropic, FakeOpenAI, Reply, scripted

FAST = Retry(attempts=3, initial=0.01, max=0.05)
ORDER_TOOL = {
    "name": "getOrderStatus",
    "description": "Look up the delivery status of an order.",
    "inputSchema": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
    },
}


@pytest.fixture(params=["openai", "anthropic"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def make(kind: str, brain, **kw):
    if kind == "openai":
        server = FakeOpenAI(brain)
        return server, OpenAIProvider(
            "gpt-test", base_url=server.base_url, api_key="sk-test", retry=FAST, **kw
        )
    server = FakeAnthropic(brain)
    return server, AnthropicProvider(
        "claude-test", base_url=server.base_url, api_key="sk-ant-test", retry=FAST, **kw
    )


def test_text_answer_with_usage_and_stop_reason(kind: str) -> None:
    server, p = make(kind, scripted(Reply(text="Hello there", input_tokens=5, output_tokens=2)))
    with server:
        r = p.chat([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    assert r.text == "Hello there"
    assert r.tool_calls == []
    assert (r.usage.input_tokens, r.usage.output_tokens) == (5, 2)
    assert r.stop_reason == "end_turn"
    assert r.provider == kind
    body = server.requests[0]
    if kind == "openai":
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    else:
        assert body["system"] == "Be brief."
        assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
        assert server.headers[0]["anthropic-version"] == "2023-06-01"


def test_tool_calls_and_tool_results_round_trip(kind: str) -> None:
    server, p = make(
        kind, scripted(Reply(tool_calls=[("getOrderStatus", {"order_id": "1234"})]), Reply(text="Delivered."))
    )
    with server:
        r = p.chat("Where is order 1234?", [ORDER_TOOL])
        assert r.stop_reason == "tool_use"
        (call,) = r.tool_calls
        call_id, name, args = call
        assert (name, args) == ("getOrderStatus", {"order_id": "1234"})
        convo = [
            {"role": "user", "content": "Where is order 1234?"},
            r.assistant_message(),
            tool_result_message(call_id, name, {"status": "delivered"}),
        ]
        final = p.chat(convo, [ORDER_TOOL])
    assert final.text == "Delivered."
    first, second = server.requests
    if kind == "openai":
        assert first["tools"][0] == {
            "type": "function",
            "function": {
                "name": "getOrderStatus",
                "description": ORDER_TOOL["description"],
                "parameters": ORDER_TOOL["inputSchema"],
            },
        }
        assistant, tool = second["messages"][1], second["messages"][2]
        assert assistant["tool_calls"][0]["function"] == {
            "name": "getOrderStatus",
            "arguments": '{"order_id": "1234"}',
        }
        assert tool == {"role": "tool", "tool_call_id": call_id, "content": '{"status": "delivered"}'}
    else:
        assert first["tools"][0]["input_schema"] == ORDER_TOOL["inputSchema"]
        assistant, user = second["messages"][1], second["messages"][2]
        assert assistant["content"][0] == {
            "type": "tool_use",
            "id": call_id,
            "name": "getOrderStatus",
            "input": {"order_id": "1234"},
        }
        assert user["role"] == "user"
        assert user["content"][0]["type"] == "tool_result" and user["content"][0]["tool_use_id"] == call_id


def test_streaming_yields_deltas_then_the_whole_response(kind: str) -> None:
    server, p = make(kind, scripted(Reply(text="The order was delivered yesterday", output_tokens=6)))
    with server:
        stream = p.chat("status?", stream=True)
        deltas = list(stream)
    assert len(deltas) == 5
    assert "".join(deltas) == "The order was delivered yesterday"
    assert stream.response.text == "The order was delivered yesterday"
    assert stream.response.usage.output_tokens == 6
    assert server.requests[0]["stream"] is True


def test_streamed_tool_calls_are_assembled(kind: str) -> None:
    server, p = make(
        kind,
        scripted(
            Reply(
                text="Checking",
                tool_calls=[("getOrderStatus", {"order_id": "77"}), ("getOrderStatus", {"order_id": "78"})],
            )
        ),
    )
    with server:
        r = p.chat("orders 77 and 78", [ORDER_TOOL], stream=True).collect()
    assert r.text == "Checking"
    assert [c.arguments for c in r.tool_calls] == [{"order_id": "77"}, {"order_id": "78"}]
    assert r.stop_reason == "tool_use"


def test_malformed_tool_call_arguments_are_reported_not_raised(kind: str) -> None:
    server, p = make(
        kind,
        scripted(Reply(tool_calls=[("getOrderStatus", '{"order_id": 12'), ("getOrderStatus", "[1, 2]")])),
    )
    with server:
        r = p.chat("x", [ORDER_TOOL])
        s = p.chat("x", [ORDER_TOOL], stream=True).collect()
    for resp in (r, s):
        first, second = resp.tool_calls
        assert first.arguments == {} and "not valid JSON" in first.error
        assert second.arguments == {} and "must be a JSON object" in second.error


def test_openai_call_without_function_name_is_flagged() -> None:
    raw = {
        "choices": [
            {
                "message": {"content": None, "tool_calls": [{"id": "c1", "function": {"arguments": "{}"}}]},
                "finish_reason": "tool_calls",
            }
        ]
    }
    server, p = make("openai", scripted(Reply(raw=raw)))
    with server:
        r = p.chat("x")
    assert r.tool_calls[0].error == "a tool call has no function name"


def test_rate_limits_and_server_errors_are_retried_with_backoff(kind: str) -> None:
    server, p = make(
        kind, scripted(Reply(status=429, headers={"retry-after": "0"}), Reply(status=503), Reply(text="ok"))
    )
    with server:
        assert p.chat("hi").text == "ok"
    assert len(server.requests) == 3


def test_retries_give_up_with_one_clear_line(kind: str) -> None:
    server, p = make(kind, scripted(Reply(status=429, error="Rate limit reached for requests")))
    with server, pytest.raises(ModelError) as err:
        p.chat("hi")
    assert len(server.requests) == 3
    msg = str(err.value)
    assert "HTTP 429 rate limited: Rate limit reached for requests" in msg
    assert "gave up after 3 attempts" in msg
    assert "\n" not in msg


def test_client_errors_are_not_retried(kind: str) -> None:
    server, p = make(kind, scripted(Reply(status=400, error="messages: bad shape")))
    with server, pytest.raises(ModelError, match="HTTP 400: messages: bad shape"):
        p.chat("hi")
    assert len(server.requests) == 1


def test_timeouts_are_retried_then_reported(kind: str) -> None:
    # 30 s late, not just late: under load a 0.1 s timer can fire well after 0.1 s.
    server, p = make(kind, scripted(Reply(text="late", delay=30)), timeout=0.1)
    with server, pytest.raises(ModelError, match="timed out .*gave up after 3 attempts"):
        p.chat("hi")


def test_unreachable_server_is_one_line() -> None:
    p = OpenAIProvider(
        "m", base_url="http://127.0.0.1:9/v1", api_key="k", retry=Retry(attempts=2, initial=0.01)
    )
    with pytest.raises(
        ModelError, match=r"cannot connect to http://127.0.0.1:9/v1 \(gave up after 2 attempts\)"
    ):
        p.chat("hi")


def test_stream_that_breaks_off_is_an_error_not_a_partial_answer() -> None:
    server, p = make("openai", scripted(Reply(raw=None, text="x")))
    with server:
        server.sse_events = lambda body, reply: [
            ("", json.dumps({"choices": [{"delta": {"content": "par"}}]})),
            ("", "{not json"),
        ]
        with pytest.raises(ModelError, match="not JSON"):
            p.chat("hi", stream=True).collect()


def test_missing_key_for_the_public_api_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    with pytest.raises(ModelError, match="openai:gpt-4o-mini needs an API key .*OPENAI_API_KEY"):
        OpenAIProvider("gpt-4o-mini")
    with pytest.raises(ModelError, match="ANTHROPIC_API_KEY"):
        AnthropicProvider("claude-3-5-haiku-latest")


def test_bad_messages_and_tools_are_one_line_errors() -> None:
    p = OpenAIProvider("m", base_url="http://127.0.0.1:9/v1", api_key="k")
    with pytest.raises(ModelError, match="role 'robot'"):
        p.chat([{"role": "robot", "content": "x"}])
    with pytest.raises(ModelError, match="non-empty list"):
        p.chat([])
    with pytest.raises(ModelError, match="tool 0 must be a dict"):
        p.chat("x", [{"description": "no name"}])
    with pytest.raises(ModelError, match="tool_call_id is missing"):
        p.chat([{"role": "tool", "content": "{}"}])
    with pytest.raises(ModelError, match="max_tokens"):
        p.chat("x", max_tokens=0)
