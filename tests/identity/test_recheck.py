"""Revocation stays prompt although ``revoked.json`` and ``config.json`` are not stat'ed at every
node start: this process's own writes (any :class:`Identity` of the project) hold at once, another
process's within :data:`RECHECK_S` (waited for here with a deadline, not a sleep)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from agentcore_nb import Graph
from agentcore_nb.identity import Identity
from agentcore_nb.identity.keys import RECHECK_S
from agentcore_nb.project import Project


def echo(payload: str) -> str:
    return payload


def graph() -> Graph:
    g = Graph("recheck")
    g.node("echo", echo, inputs={"payload": "$input"})
    return g


def test_a_revocation_in_this_process_holds_at_the_next_node(project: Project, agentcore_home: Path) -> None:
    runtime, g = project.runtime(), graph()
    assert runtime.run(g, "hi", session_id="sess-1").ok  # the stamps are now fresh in the cache
    Identity(agentcore_home).revoke(session="sess-1")  # another instance, same process
    result = runtime.run(g, "hi", session_id="sess-1")
    assert result.errors == {"echo": "not permitted: issue (session revoked)"}
    assert runtime.run(g, "hi", session_id="sess-2").ok


def test_a_revocation_by_another_process_holds_within_the_bound(
    project: Project, subprocess_env: dict[str, str]
) -> None:
    runtime, g = project.runtime(), graph()
    assert runtime.run(g, "hi", session_id="chat-9").ok
    done = subprocess.run(
        [sys.executable, "-m", "agentcore_nb.cli", "identity", "revoke", "--session", "chat-9"],
        env=subprocess_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 30 * RECHECK_S + 30  # generous: a loaded machine
    while True:
        result = runtime.run(g, "hi", session_id="chat-9")
        if not result.ok or time.monotonic() > deadline:
            break
    assert result.errors == {"echo": "not permitted: issue (session revoked)"}
    assert runtime.run(g, "hi", session_id="chat-10").ok
