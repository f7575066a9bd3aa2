"""The DuckDB event log: ordering, group commit under threads, reopen, locks, corruption."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from agentcore_nb import DuckDBEventLog, Graph, Runtime
from agentcore_nb.errors import EventLogError, StoreLockedError
from agentcore_nb.events import ActionEvent, NodeStarted


def test_append_flush_read_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "log.duckdb"
    log = DuckDBEventLog(path)
    for i in range(50):
        log.append(NodeStarted(run_id=f"r{i % 2}", node_id=f"n{i}"))
    log.append(ActionEvent(run_id="r0", action="getOrderStatus", output={"status": "delivered"}))
    assert [e.seq for e in log.events()] == list(range(51))
    assert len(log.events("r0")) == 26
    assert [e.type for e in log.events(types=["ActionEvent"])] == ["ActionEvent"]
    assert len(log.events(after_seq=45)) == 5
    log.close()
    again = DuckDBEventLog(path)
    e = again.append(NodeStarted(run_id="r2"))
    assert e.seq == 51
    assert again.events(types=["ActionEvent"])[0].output == {"status": "delivered"}
    again.close()


def test_group_commit_keeps_every_event_from_many_threads(tmp_path: Path) -> None:
    log = DuckDBEventLog(tmp_path / "log.duckdb")

    def writer(t: int) -> None:
        for i in range(300):
            log.append(NodeStarted(run_id=f"t{t}", node_id=str(i)))

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.flush()
    events = log.events()
    assert len(events) == 2400
    assert [e.seq for e in events] == list(range(2400))
    for t in range(8):  # each thread's events are in its own order
        assert [e.node_id for e in events if e.run_id == f"t{t}"] == [str(i) for i in range(300)]
    log.close()


def test_runs_summary_from_a_durable_runtime(tmp_path: Path) -> None:
    with Runtime(DuckDBEventLog(tmp_path / "log.duckdb")) as rt:
        g = Graph("summary")
        g.node("a", lambda: 1)
        g.node("b", lambda: 1 / 0)
        ok_graph = Graph("fine")
        ok_graph.node("x", lambda: 2)
        r1 = rt.run(g)
        r2 = rt.run(ok_graph)
        runs = {r.run_id: r for r in rt.log.runs()}
        assert runs[r1.run_id].status == "failed" and runs[r1.run_id].graph_name == "summary"
        assert runs[r1.run_id].nodes_succeeded == 1 and runs[r1.run_id].nodes_failed == 1
        assert runs[r2.run_id].status == "succeeded" and runs[r2.run_id].ended is not None
        assert rt.log.resolve_run_id(r2.run_id[:10]) == r2.run_id


HOLDER = """
import sys, time
import duckdb
con = duckdb.connect(sys.argv[1])  # not agentcore-nb: holds the file without serving it
print("ready", flush=True)
time.sleep(60)
"""


def test_locked_store_names_the_pid(tmp_path: Path) -> None:
    """A process outside agentcore-nb holding the file is named; agentcore processes share (tests/state)."""
    path = tmp_path / "log.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLockedError, match=rf"is in use by PID {holder.pid}"):
            DuckDBEventLog(path)
    finally:
        holder.kill()
        holder.wait()
    log = DuckDBEventLog(path)  # usable again once the holder is gone, nothing lost
    log.close()


def test_corrupt_file_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "log.duckdb"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(EventLogError, match="not a readable DuckDB database"):
        DuckDBEventLog(path)
    assert path.read_bytes().startswith(b"this is not a database")  # left untouched


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.duckdb"
    DuckDBEventLog(path).close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE agentcore_schema SET version = 99 WHERE component = 'eventlog'")
    con.close()
    with pytest.raises(EventLogError, match="schema version 99, newer than"):
        DuckDBEventLog(path)


def test_closed_log_refuses_appends(tmp_path: Path) -> None:
    log = DuckDBEventLog(tmp_path / "log.duckdb")
    log.close()
    with pytest.raises(EventLogError, match="is closed"):
        log.append(NodeStarted())


def test_flush_waits_for_commit(tmp_path: Path) -> None:
    path = tmp_path / "log.duckdb"
    log = DuckDBEventLog(path)
    for _ in range(1000):
        log.append(NodeStarted(run_id="x"))
    log.flush()
    assert log.count() == 1000
    log.close()


def test_a_stream_of_events_is_committed_while_it_runs_and_shares_commits(tmp_path: Path) -> None:
    """Events that keep coming (notebook cells run back to back) are committed without a flush,
    while the stream goes on (so a killed process loses only the last moments), in batches."""
    import time

    log = DuckDBEventLog(tmp_path / "log.duckdb")
    batches: list[int] = []
    insert = log._insert

    def counting(cur: duckdb.DuckDBPyConnection, batch: list) -> None:
        batches.append(len(batch))
        insert(cur, batch)

    log._insert = counting  # type: ignore[method-assign]
    appended = 0
    deadline = time.monotonic() + 60
    try:
        while log._committed < 0:  # no flush: only the writer's own schedule commits
            assert time.monotonic() < deadline, "nothing was committed while events kept coming"
            log.append(NodeStarted(run_id="r", node_id=f"n{appended}"))
            appended += 1
            time.sleep(0.002)  # the pace of cells run back to back
        assert 0 <= log._committed < appended
        log.flush()
        assert sum(batches) == appended and len(batches) < appended  # commits were shared
        assert [e.node_id for e in log.events("r")] == [f"n{i}" for i in range(appended)]
    finally:
        log.close()
