"""The session table on a clock of its own: idle and lifetime expiry, tombstones, the sweep."""

from __future__ import annotations

import pytest

from agentcore_nb.errors import AgentcoreError
from agentcore_nb.serve.sessions import SessionExpired, SessionTable


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def table(**kw: float) -> tuple[SessionTable, Clock, list[str]]:
    clock, ended = Clock(), []
    return SessionTable(clock=clock, on_expire=ended.append, **kw), clock, ended


def test_idle_expiry_and_touch_keeps_alive() -> None:
    t, clock, ended = table(idle=10, max_lifetime=100)
    s = t.touch("a")
    s.namespace["x"] = 1
    clock.now += 9
    assert t.touch("a").namespace == {"x": 1}
    clock.now += 9
    assert t.touch("a") is s  # each request resets the idle clock
    clock.now += 10
    with pytest.raises(SessionExpired, match="idle for more than 10s"):
        t.touch("a")
    assert ended == ["a"]
    with pytest.raises(SessionExpired):  # stays ended: the client starts a new session
        t.touch("a")
    assert t.touch("b").namespace == {}


def test_lifetime_expiry_even_when_busy() -> None:
    t, clock, _ = table(idle=10, max_lifetime=25)
    t.touch("a")
    for _ in range(4):
        clock.now += 5
        t.touch("a")
    clock.now += 5
    with pytest.raises(SessionExpired, match="maximum lifetime of 25s"):
        t.touch("a")


def test_sweep_ends_due_sessions_and_tombstones_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import agentcore_nb.serve.sessions as mod

    monkeypatch.setattr(mod, "TOMBSTONES", 3)
    t, clock, ended = table(idle=10, max_lifetime=100)
    for i in range(5):
        t.touch(f"s{i}")
    clock.now += 5
    t.touch("s4")
    clock.now += 6
    assert t.sweep() == 4
    assert len(t) == 1 and sorted(ended) == ["s0", "s1", "s2", "s3"]
    assert len(t._expired) == 3  # the oldest tombstone forgotten


def test_bad_settings() -> None:
    with pytest.raises(AgentcoreError):
        SessionTable(idle=0)
