"""The alternating-turn walk Anthropic and Bedrock share: what is merged, folded and dropped."""

from __future__ import annotations

from agentcore_nb.models.anthropic import to_anthropic
from agentcore_nb.models.bedrock import to_converse_request
from agentcore_nb.models.turns import alternating_turns

CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": ""},
    {"role": "user", "content": "Where is order 1?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "t1", "name": "status", "arguments": {"id": 1}}],
    },
    {"role": "tool", "tool_call_id": "t1", "content": '{"status": "sent"}'},
    {"role": "tool", "tool_call_id": "t2", "content": "oops", "is_error": True},
    {"role": "assistant", "content": ""},  # nothing to say: no turn
    {"role": "system", "content": ""},
    {"role": "system", "content": "Use tools."},
]


def test_turns_alternate_and_tool_results_join_the_user_turn():
    system, turns = alternating_turns(
        CHAT,
        text=lambda t: {"t": t},
        tool_use=lambda c: {"use": c["id"]},
        tool_result=lambda m: {"result": m["tool_call_id"]},
    )
    assert system == ["Be brief.", "Use tools."]
    assert turns == [
        {"role": "user", "content": [{"t": " "}, {"t": "Where is order 1?"}]},
        {"role": "assistant", "content": [{"use": "t1"}]},
        {"role": "user", "content": [{"result": "t1"}, {"result": "t2"}]},
    ]


def test_both_providers_keep_their_own_block_formats():
    system, turns = to_anthropic(CHAT)
    assert system == "Be brief.\n\nUse tools."
    assert turns[1]["content"] == [{"type": "tool_use", "id": "t1", "name": "status", "input": {"id": 1}}]
    assert turns[2]["content"][1] == {
        "type": "tool_result",
        "tool_use_id": "t2",
        "content": "oops",
        "is_error": True,
    }
    request = to_converse_request("m", CHAT, [], None)
    assert request["system"] == [{"text": "Be brief."}, {"text": "Use tools."}]
    assert request["messages"][1]["content"] == [
        {"toolUse": {"toolUseId": "t1", "name": "status", "input": {"id": 1}}}
    ]
    assert request["messages"][2]["content"] == [
        {"toolResult": {"toolUseId": "t1", "content": [{"json": {"status": "sent"}}]}},
        {"toolResult": {"toolUseId": "t2", "content": [{"text": "oops"}], "status": "error"}},
    ]
