"""The offline reasoner (not an LLM): tool picking, argument filling, re-routing, answers."""

from __future__ import annotations

import pytest

from agentcore_nb.models import KIND_OFFLINE, OfflineReasoner, tool_result_message
from agentcore_nb.models.slots import fill_arguments

ORDER = {
    "name": "getOrderStatus",
    "description": "Look up the delivery status of a customer order by its order id.",
    "inputSchema": {
        "type": "object",
        "properties": {"order_id": {"type": "string", "description": "The order id"}},
        "required": ["order_id"],
    },
}
BILLING = {
    "name": "billing",
    "description": "Answers refund and billing questions from the refund history.",
    "inputSchema": {"type": "object", "properties": {"request": {"type": "string"}}, "required": ["request"]},
}
CODE = {
    "name": "executeCode",
    "description": "Run Python, JavaScript or R code in a sandboxed session.",
    "inputSchema": {
        "type": "object",
        "properties": {
            "code": {"type": "string"},
            "language": {"type": "string", "enum": ["python", "javascript", "r"]},
        },
        "required": ["code"],
    },
}
TRACKING = {
    "name": "trackParcel",
    "description": "Track a parcel of an order with the carrier.",
    "inputSchema": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
    },
}
TOOLS = [ORDER, BILLING, CODE]


@pytest.fixture(scope="module")
def r() -> OfflineReasoner:
    return OfflineReasoner()


def test_it_says_what_it_is(r: OfflineReasoner) -> None:
    assert r.kind == KIND_OFFLINE == "offline reasoner (not an LLM)"
    assert not r.is_llm
    assert r.describe()["kind"] == KIND_OFFLINE


def test_picks_the_matching_tool_and_fills_its_id(r: OfflineReasoner) -> None:
    resp = r.chat("Where is my order 1234?", TOOLS)
    assert resp.stop_reason == "tool_use"
    assert [c.to_dict() for c in resp.tool_calls] == [
        {"id": "call_1_1", "name": "getOrderStatus", "arguments": {"order_id": "1234"}}
    ]


def test_calls_several_matching_tools_at_once(r: OfflineReasoner) -> None:
    resp = r.chat("Where is my order 1234? And was my refund for it processed?", TOOLS)
    assert [c.name for c in resp.tool_calls] == ["getOrderStatus", "billing"]
    assert resp.tool_calls[1].arguments == {
        "request": "Where is my order 1234? And was my refund for it processed?"
    }


def test_enums_and_code_come_from_the_request(r: OfflineReasoner) -> None:
    resp = r.chat("Please run `print(6 * 7)` in python", TOOLS)
    assert resp.tool_calls[0].to_dict()["arguments"] == {"code": "print(6 * 7)", "language": "python"}


def test_is_deterministic(r: OfflineReasoner) -> None:
    a = r.chat("Where is my order 1234?", TOOLS).to_dict()
    b = OfflineReasoner().chat("Where is my order 1234?", TOOLS).to_dict()
    assert a == b


def test_missing_required_argument_is_not_invented(r: OfflineReasoner) -> None:
    resp = r.chat("Where is my order?", [ORDER])
    assert resp.tool_calls == []
    assert "getOrderStatus needs order_id, which the request does not give" in resp.text


def test_no_match_says_so(r: OfflineReasoner) -> None:
    resp = r.chat("What is the weather in Lisbon?", TOOLS)
    assert resp.tool_calls == [] and resp.stop_reason == "end_turn"
    assert "no tool or memory that matches" in resp.text and "not an LLM" in resp.text


def test_answer_is_composed_from_results_and_memory(r: OfflineReasoner) -> None:
    convo = [
        {"role": "system", "content": "You are a support agent."},
        {
            "role": "system",
            "content": "Relevant memories",
            "memory": [
                {"text": "Refund issued for order 1100"},
                {"text": "Refund denied for 1200"},
                {"text": "Refund issued for 1234"},
            ],
            "summary": "Found 3 related refund events",
        },
        {"role": "user", "content": "Where is my order 1234?"},
    ]
    first = r.chat(convo, TOOLS)
    convo += [
        first.assistant_message(),
        tool_result_message(
            "call_1_1", "getOrderStatus", {"status": "delivered", "timestamp": "2025-10-12T09:33Z"}
        ),
    ]
    final = r.chat(convo, TOOLS)
    assert final.stop_reason == "end_turn"
    assert final.text.splitlines() == [
        'Answer to "Where is my order 1234?":',
        "- getOrderStatus(order_id=1234): status delivered, timestamp 2025-10-12T09:33Z",
        "- Found 3 related refund events:",
        "    - Refund issued for order 1100",
        "    - Refund denied for 1200",
        "    - Refund issued for 1234",
    ]
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0


def test_reroutes_to_the_next_tool_when_one_fails(r: OfflineReasoner) -> None:
    tools = [ORDER, TRACKING]
    convo: list[dict] = [{"role": "user", "content": "Track my order 1234 status"}]
    first = r.chat(convo, tools)
    names = [c.name for c in first.tool_calls]
    assert names[0] in ("getOrderStatus", "trackParcel")
    convo.append(first.assistant_message())
    for c in first.tool_calls:
        convo.append(tool_result_message(c.id, c.name, "service unavailable", is_error=True))
    second = r.chat(convo, tools)
    if len(names) == 2:  # both were tried at once: nothing left, the failure is reported
        assert second.tool_calls == [] and "failed" in second.text
    else:
        assert [c.name for c in second.tool_calls] == [
            n for n in ("getOrderStatus", "trackParcel") if n not in names
        ]


def test_streams_the_answer_in_pieces(r: OfflineReasoner) -> None:
    stream = r.chat("What is the weather?", [], stream=True)
    pieces = list(stream)
    assert len(pieces) > 3
    assert "".join(pieces) == stream.response.text


@pytest.mark.parametrize(
    ("request_text", "schema", "expected", "missing"),
    [
        (
            "order 1234 please",
            {"properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
            {"order_id": "1234"},
            [],
        ),
        (
            "ship #A-77 to customer C-9",
            {
                "properties": {"customer_id": {"type": "string"}, "order_id": {"type": "string"}},
                "required": ["order_id", "customer_id"],
            },
            {"order_id": "A-77", "customer_id": "C-9"},
            [],
        ),
        (
            "show the top 5 refunds",
            {
                "properties": {"limit": {"type": "integer"}, "query": {"type": "string"}},
                "required": ["query"],
            },
            {"query": "show the top 5 refunds"},
            [],
        ),
        (
            'search for "late delivery" limit 3',
            {
                "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
                "required": ["query"],
            },
            {"query": "late delivery", "limit": 3},
            [],
        ),
        (
            "set priority to high",
            {"properties": {"priority": {"enum": ["low", "high"]}}, "required": ["priority"]},
            {"priority": "high"},
            [],
        ),
        (
            "mail bob@example.com",
            {"properties": {"email": {"type": "string", "format": "email"}}, "required": ["email"]},
            {"email": "bob@example.com"},
            [],
        ),
        (
            "nothing useful",
            {"properties": {"amount": {"type": "number"}}, "required": ["amount"]},
            {},
            ["amount"],
        ),
        (
            "ticket TK-2024-11 now",
            {
                "properties": {"ticket": {"type": "string", "pattern": "^TK-\\d{4}-\\d+$"}},
                "required": ["ticket"],
            },
            {"ticket": "TK-2024-11"},
            [],
        ),
    ],
)
def test_fill_arguments(request_text: str, schema: dict, expected: dict, missing: list) -> None:
    assert fill_arguments(request_text, {"type": "object", **schema}) == (expected, missing)
