"""Handles on the one writer: several logs on one file in a process, and a client's full API."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

from agentcore_nb import DuckDBEventLog, Runtime
from agentcore_nb.events import NodeStarted
from agentcore_nb.project import Project

from ..helpers.procs import cli, python_child, run_python

REPO = Path(__file__).resolve().parents[2]


def test_two_logs_on_one_file_in_one_process_share_one_writer(tmp_path: Path) -> None:
    path = tmp_path / "agentcore.duckdb"
    first = DuckDBEventLog(path)
    second = DuckDBEventLog(path)  # e.g. Runtime.durable() beside project.event_log
    assert type(second).__name__ == "SharedEventLog"
    for i in range(100):
        (first if i % 2 else second).append(NodeStarted(run_id="r", node_id=str(i)))
    second.flush()
    seqs = [e.seq for e in first.events()]
    assert seqs == list(range(100))  # one counter: no seq handed out twice
    assert [int(e.node_id) for e in second.events("r")] == list(range(100))
    first.close()
    second.append(NodeStarted(run_id="r", node_id="100"))  # the writer lives while a handle does
    second.close()
    again = DuckDBEventLog(path)
    assert again.count() == 101
    again.close()


CLIENT = textwrap.dedent(
    """
    import json
    from agentcore_nb.project import Project
    p = Project()
    m = p.services["memory"]
    out = {"role": type(p.database).__name__, "memory": type(m).__name__}
    rec = m.add("client refund for order 77", namespace="c/x", metadata={"order": "77"})
    out["get"] = m.get(rec.id).text
    out["search"] = [h.record.text for h in m.search("refund order 77", k=3, namespace="c/")]
    out["filtered"] = len(m.search("refund", filters={"order": "77"}, k=3))
    out["forget"] = m.forget(rec.id).tombstone
    out["after_forget"] = [h.record.id for h in m.search("refund order 77", k=3, namespace="c/")]
    out["list"] = len(m.list(namespace="c/", include_forgotten=True))
    out["events"] = [e.op for e in m.events(namespace="c/")]
    out["stats"] = m.stats()["records"]
    out["session"] = type(m.session("s1")).__name__
    print(json.dumps(out))
    p.close()
    """
)


def test_a_client_has_the_whole_memory_api(agentcore_home: Path, subprocess_env) -> None:
    with Project(agentcore_home) as p:
        p.services["memory"].add("owner note", namespace="o")
        out = run_python(CLIENT, subprocess_env)
        assert out.returncode == 0, out.stderr
        seen = json.loads(out.stdout.splitlines()[-1])
        assert seen["role"] == "RemoteDatabase" and seen["memory"] == "ClientMemory"
        assert seen["get"] == "client refund for order 77"
        assert seen["search"] == ["client refund for order 77"] and seen["filtered"] == 1
        assert seen["forget"] is True and seen["after_forget"] == []
        assert seen["list"] == 1 and seen["events"] == ["add", "forget"] and seen["stats"] == 2
        assert seen["session"] == "SessionCache"
        # the owner's own Memory sees the client's writes at once (same store, same index)
        assert p.services["memory"].stats()["forgotten"] == 1


def test_a_graph_run_from_a_client_process_lands_in_the_owners_log(
    agentcore_home: Path, subprocess_env
) -> None:
    with Runtime.durable(agentcore_home) as rt:
        graph = REPO / "notebooks" / "demo-graph.json"
        question = '{"order_id": "1234", "question": "Where is my order?"}'
        out = cli(subprocess_env, "run", str(graph), "--input", question, timeout=120)
        assert out.returncode == 0, out.stderr
        (run,) = rt.log.runs()
        assert run.status == "succeeded"
        seqs = [e.seq for e in rt.log.events()]
        assert seqs == list(range(len(seqs)))


def test_a_project_path_longer_than_a_socket_address_works(tmp_path: Path, subprocess_env) -> None:
    home = tmp_path / ("deep-" * 12) / ("project-" * 6)  # sun_path holds 107 bytes
    assert len(str(home / "agentcore.sock")) > 108
    with Project(home) as p:
        p.services["memory"].add("far away", namespace="deep")
        env = {**subprocess_env, "AGENTCORE_HOME": str(home)}
        out = cli(env, "memory", "search", "far away", "--json", timeout=120)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout.splitlines()[0])["text"] == "far away"


def test_a_resent_batch_is_not_committed_twice(agentcore_home: Path) -> None:
    from agentcore_nb.state import election, wire

    with Project(agentcore_home) as p:
        p.event_log.flush()  # opens the file (and the socket)
        batch = [NodeStarted(run_id="resent", node_id=str(i)) for i in range(5)]
        sock = election.connect(p.database_path, timeout=5)
        try:
            wire.send(sock, ("log.append", (batch[:3], False), {}))  # the dead owner got this far
            assert wire.recv(sock) == (True, [0, 1, 2])
            wire.send(sock, ("log.append", (batch, True), {}))  # the client sends it all again
            ok, seqs = wire.recv(sock)
        finally:
            sock.close()
        assert ok and seqs == [-1, -1, -1, 3, 4]  # the first three were already there
        assert [e.node_id for e in p.event_log.events("resent")] == ["0", "1", "2", "3", "4"]


LATE_CLIENT = textwrap.dedent(
    """
    import json, sys
    from agentcore_nb.events import NodeStarted
    from agentcore_nb.project import Project
    p = Project()
    print(type(p.database).__name__, flush=True)  # connected, nothing asked yet
    sys.stdin.readline()
    m = p.services["memory"]
    m.add("after the owner closed", namespace="late")
    p.event_log.append(NodeStarted(run_id="late"))
    p.event_log.flush()
    print(json.dumps([len(m.search("after the owner closed", k=3)), [r.run_id for r in p.event_log.runs() if r.kind != "adhoc"]]), flush=True)
    p.close()
    """
)


def test_the_owner_closing_its_handles_leaves_the_state_to_its_clients(
    agentcore_home: Path, subprocess_env
) -> None:
    from agentcore_nb.state import election

    p = Project(agentcore_home)
    p.event_log.append(NodeStarted(run_id="owner"))
    p.event_log.flush()
    client = python_child(LATE_CLIENT, subprocess_env, stdin=True)
    try:
        assert client.stdout.readline().strip() == "RemoteDatabase"
        p.close()  # the owner's own handles are gone; its process still serves the connected client
        out, _ = client.communicate("go\n", timeout=120)
        found, runs = json.loads(out.splitlines()[-1])
        assert found == 1 and runs == ["owner", "late"]
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    sock = election.socket_path(agentcore_home / "agentcore.duckdb")
    deadline = time.monotonic() + 30  # the last client left: the file closes, the socket goes
    while sock.exists():
        assert time.monotonic() < deadline
        time.sleep(0.01)
