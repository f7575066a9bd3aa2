"""Faults: the owner SIGKILLed mid-write, a stale socket, a client that hangs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import textwrap
import threading
import time
from pathlib import Path

from agentcore_nb.events import NodeStarted
from agentcore_nb.project import Project
from agentcore_nb.state import election

from ..helpers.procs import cli, python_child, run_python

# Appends events of its own run, flushing every 10, and adds a memory after each flush; prints
# what was acknowledged (flush returned, add returned) as JSON lines. Stops when STOP exists.
WRITER = textwrap.dedent(
    """
    import json, os, sys
    from agentcore_nb.events import NodeStarted
    from agentcore_nb.project import Project
    from agentcore_nb.state import StateOwnerLostError
    who, stop = sys.argv[1], sys.argv[2]
    p = Project()
    log, mem = p.event_log, p.services["memory"]
    print(json.dumps({"role": type(p.database).__name__}), flush=True)
    i = 0
    while not os.path.exists(stop):
        for _ in range(10):
            log.append(NodeStarted(run_id=who, node_id=str(i)))
            i += 1
        log.flush()
        acked = {"events": i}
        try:
            acked["memory"] = mem.add(f"{who} note {i}", namespace=who).id
        except StateOwnerLostError:
            pass  # in flight when the owner died: may or may not be there, never half there
        print(json.dumps(acked), flush=True)
    print(json.dumps({"role": type(p.database.link.local_db).__name__ if hasattr(p.database, "link") else "owner"}), flush=True)
    p.close()
    """
)


def _lines(proc: subprocess.Popen, n: int, deadline: float) -> list[dict]:
    out = []
    while len(out) < n:
        assert time.monotonic() < deadline, f"only {len(out)} progress lines"
        line = proc.stdout.readline()
        assert line, f"writer exited: {proc.wait()}"
        out.append(json.loads(line))
    return out


def test_owner_sigkilled_mid_write_loses_nothing_acknowledged(agentcore_home: Path, subprocess_env, tmp_path):
    stop = tmp_path / "stop"
    owner = python_child(WRITER, subprocess_env, "A", str(stop))
    client = None
    deadline = time.monotonic() + 120
    try:
        assert _lines(owner, 1, deadline)[0] == {"role": "Database"}
        client = python_child(WRITER, subprocess_env, "B", str(stop))
        assert _lines(client, 1, deadline)[0] == {"role": "RemoteDatabase"}
        acked_a = _lines(owner, 5, deadline)
        before = _lines(client, 5, deadline)
        os.kill(owner.pid, signal.SIGKILL)  # mid-write: it never stops appending
        owner.wait()
        acked_a += [json.loads(x) for x in owner.stdout.read().splitlines() if x.strip()]
        after = _lines(client, 10, deadline)  # the client carries on: it took the state over
        stop.touch()
        rest = [json.loads(x) for x in client.communicate(timeout=60)[0].splitlines()]
        assert rest[-1] == {"role": "Database"}  # B became the owner
        acked_b = before + after + rest[:-1]
    finally:
        for proc in (owner, client):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    with Project(agentcore_home) as p:
        events = p.event_log.events()
        # one order, no gap, no duplicate; each run's events in the order they were appended
        assert [e.seq for e in events] == list(range(len(events)))
        for who, acked in (("A", acked_a), ("B", acked_b)):
            nodes = [int(e.node_id) for e in events if e.run_id == who]
            assert nodes == list(range(len(nodes)))  # contiguous, nothing half-written out of order
            assert len(nodes) >= max(a["events"] for a in acked)  # nothing acknowledged lost
            mem = p.services["memory"]
            for a in acked:
                if "memory" in a:
                    assert mem.get(a["memory"]).text.startswith(f"{who} note")
        listed = mem.list(limit=100_000)
        adds = [e for e in mem.events() if e.op == "add"]
        assert len(listed) == len(adds)  # the projection is whole: every committed add, nothing else
        assert mem.stats()["indexed"] == len(listed)


def test_a_stale_socket_is_replaced(agentcore_home: Path) -> None:
    db_path = agentcore_home / "agentcore.duckdb"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(election.socket_path(db_path)))  # a dead owner's socket: a file nobody listens on
    stale.close()
    old = os.stat(election.socket_path(db_path)).st_ino
    with Project(agentcore_home) as p:
        p.event_log.append(NodeStarted(run_id="r"))
        p.event_log.flush()
        assert os.stat(election.socket_path(db_path)).st_ino != old
        conn = election.connect(db_path, timeout=5)  # the new socket answers
        conn.close()
    deadline = time.monotonic() + 30  # the server lets go once that last client has left
    while election.socket_path(db_path).exists():
        assert time.monotonic() < deadline, "the socket outlived its owner's last user"
        time.sleep(0.01)


CLIENT = textwrap.dedent(
    """
    import sys, time
    from agentcore_nb.events import NodeStarted
    from agentcore_nb.project import Project
    p = Project()
    mem = p.services["memory"]
    for i in range(20):
        p.event_log.append(NodeStarted(run_id="c", node_id=str(i)))
        mem.add(f"client note {i}", namespace="c")
    p.event_log.flush()
    print(len(mem.search("client note", namespace="c", k=50)), type(p.database).__name__, flush=True)
    p.close()
    """
)


def test_a_hanging_client_does_not_block_the_others(agentcore_home: Path, subprocess_env) -> None:
    with Project(agentcore_home) as p:
        p.services["memory"].add("owner note", namespace="o")
        db_path = p.database_path
        # one client sends half a frame and hangs; another opens a transaction and never ends it
        half = election.connect(db_path, timeout=5)
        half.sendall(struct.pack(">I", 1000) + b"\x80\x05partial")
        open_tx = p.database.state  # the server object, to reach it the way a client does
        assert open_tx is not None
        hung = election.connect(db_path, timeout=5)
        from agentcore_nb.state import wire

        wire.send(hung, ("sql.execute", ("BEGIN", None), {}))
        assert wire.recv(hung)[0]
        wire.send(
            hung, ("sql.execute", ("INSERT INTO events VALUES (999999, 'x', '', '', 'X', 0, '{}')", None), {})
        )
        assert wire.recv(hung)[0]
        done = threading.Event()
        out: list[str] = []

        def run() -> None:
            res = run_python(CLIENT, subprocess_env)
            out.append(res.stdout + res.stderr)
            done.set()

        threading.Thread(target=run, daemon=True).start()
        assert done.wait(120), "the working client was blocked"
        assert out[0].split() == ["20", "RemoteDatabase"], out[0]
        # the owner itself keeps working too, and the hung transaction's row is invisible
        assert all(e.seq != 999999 for e in p.event_log.events())
        half.close()
        hung.close()


FORKING_OWNER = textwrap.dedent(
    """
    import os, sys, time
    from agentcore_nb.project import Project
    p = Project()
    p.event_log.flush()
    child = os.fork()  # e.g. multiprocessing with the fork start method, in a notebook
    if child == 0:
        time.sleep(120)
        os._exit(0)
    print(child, flush=True)
    time.sleep(120)
    """
)


def test_a_forked_child_of_the_owner_does_not_keep_the_state(agentcore_home: Path, subprocess_env) -> None:
    owner = python_child(FORKING_OWNER, subprocess_env)
    child = int(owner.stdout.readline())
    try:
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        with Project(agentcore_home) as p:  # the child still runs, yet this process takes over
            assert type(p.database).__name__ == "Database"
            p.event_log.append(NodeStarted(run_id="after"))
            p.event_log.flush()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


def test_an_owner_that_does_not_answer_is_one_clear_line(agentcore_home: Path, subprocess_env) -> None:
    owner = python_child(FORKING_OWNER, subprocess_env)
    child = int(owner.stdout.readline())
    os.kill(child, signal.SIGKILL)
    try:
        os.kill(owner.pid, signal.SIGSTOP)  # holds the lock, accepts nothing
        env = {**subprocess_env, "AGENTCORE_STATE_TIMEOUT": "3"}
        out = cli(env, "runs", timeout=120)
        assert out.returncode == 1
        assert "does not answer" in out.stderr and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    finally:
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
