"""Scope matching and narrowing: the rules every check and every attenuation relies on."""

from __future__ import annotations

import pytest

from agentcore_nb.identity import ScopeError, covers, narrow, parse_scopes


@pytest.mark.parametrize(
    ("granted", "requested", "ok"),
    [
        ("tool:a", "tool:a", True),
        ("tool:a", "tool:b", False),
        ("tool:*", "tool:a", True),
        ("tool:*", "tool:*", True),
        ("tool:a", "tool:*", False),
        ("memory:read:support", "memory:read:support/refunds/2024", True),
        ("memory:read:support", "memory:read:support/", True),
        ("memory:read:support/", "memory:read:support/x", True),
        ("memory:read:support", "memory:read:supportx", False),
        ("memory:read:support/refunds", "memory:read:support", False),
        ("memory:read:support/refunds", "memory:read:support/", False),
        ("memory:read:support", "memory:write:support", False),
        ("memory:read:*", "memory:read:anything/at/all", True),
        ("memory:read:support", "memory:read:*", False),
        ("net:api.example.com:*", "net:api.example.com:443", True),
        ("net:api.example.com:*", "net:api.example.com.evil.io:443", False),
        ("net:api.example.com:443", "net:api.example.com:4433", False),
        ("code:exec", "code:exec", True),
        ("code:*", "code:exec", True),
    ],
)
def test_covers(granted: str, requested: str, ok: bool) -> None:
    assert covers(granted, requested) is ok


def test_narrow_is_the_meet_and_never_wider_than_the_parent() -> None:
    parent = ("tool:a", "tool:b", "memory:read:support")
    assert narrow(parent, ["tool:*"]) == ("tool:a", "tool:b")
    assert narrow(parent, ["tool:a", "tool:c"]) == ("tool:a",)
    assert narrow(parent, ["memory:read:support/refunds"]) == ("memory:read:support/refunds",)
    assert narrow(parent, ["memory:read:*"]) == ("memory:read:support",)
    assert narrow(parent, ["memory:write:support", "code:exec"]) == ()
    assert narrow((), ["tool:a"]) == ()


def test_parse_scopes() -> None:
    assert parse_scopes("tool:a  tool:b tool:a") == ("tool:a", "tool:b")
    assert parse_scopes(["tool:a", "memory:read:x tool:c"]) == ("tool:a", "memory:read:x", "tool:c")
    assert parse_scopes(None) == ()
    for bad in (
        "tool",
        "tool:",
        "Tool:a",
        "tool::a",
        "tool:a\x00",
        "tool:é",
        "memory:read:a/../b",
        "memory:read:a//b",
    ):
        with pytest.raises(ScopeError):
            parse_scopes([bad])
    with pytest.raises(ScopeError, match="too many scopes"):
        parse_scopes([f"tool:t{i}" for i in range(300)])
