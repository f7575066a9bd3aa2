"""Long-lived sub-agent sessions on the local backend: a python callable taking ``session_state``
keeps a dict per (session, node) across runs; sessions are isolated, end, and are bounded."""

from __future__ import annotations

import threading

from agentcore_nb import Graph, Runtime
from agentcore_nb.runtime.session_state import SessionStates


def converse(message: str, session_state: dict) -> list[str]:
    session_state.setdefault("turns", []).append(message)
    return list(session_state["turns"])


def _graph() -> Graph:
    g = Graph("sub")
    g.node("a", converse, inputs={"message": "$input"})
    g.node("b", converse, inputs={"message": "$input"})
    return g


def test_state_is_kept_per_session_and_node_across_runs() -> None:
    with Runtime() as rt:
        g = _graph()
        assert rt.run(g, "x1", session_id="x").outputs == {"a": ["x1"], "b": ["x1"]}
        assert rt.run(g, "y1", session_id="y").outputs == {"a": ["y1"], "b": ["y1"]}  # isolated
        assert rt.run(g, "x2", session_id="x").outputs == {"a": ["x1", "x2"], "b": ["x1", "x2"]}
        assert rt.run(g, "solo").outputs["a"] == ["solo"]  # no session: the run is its own
        assert rt.run(g, "solo2").outputs["a"] == ["solo2"]
        rt.end_session("x")
        assert rt.run(g, "x3", session_id="x").outputs["a"] == ["x3"]  # ended: fresh state


def test_a_node_that_takes_session_state_as_an_input_is_an_ordinary_node() -> None:
    g = Graph("plain")
    g.node("a", converse, inputs={"message": "$input.m", "session_state": "$input.s"})
    with Runtime() as rt:
        out = rt.run(g, {"m": "hi", "s": {}}, session_id="x").outputs["a"]
    assert out == ["hi"] and len(rt.session_states) == 0


def test_the_store_is_bounded_least_recently_used_first_and_thread_safe() -> None:
    dropped: list[str] = []
    states = SessionStates(limit=2, on_drop=lambda sid, nodes: dropped.append(sid))
    states.get("s1", "n")["v"] = 1
    states.get("s2", "n")["v"] = 2
    assert states.get("s1", "n") == {"v": 1}  # s1 is now the most recent
    states.get("s3", "n")
    assert dropped == ["s2"] and sorted(states.sessions()) == ["s1", "s3"]
    seen: list[dict] = []
    threads = [threading.Thread(target=lambda: seen.append(states.get("s9", "n"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(s is seen[0] for s in seen)  # one dict per (session, node), however many callers
    states.clear()
    assert len(states) == 0 and set(dropped) == {"s1", "s2", "s3", "s9"}
