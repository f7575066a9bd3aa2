"""The write path: one event per ``add_many`` (and namespace/session), read back by everything that
reads memory events: replay after a lost projection, rebuild, ``Memory.events()``, the CLI."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pytest

from agentcore_nb.events import MemoryUpdateEvent
from agentcore_nb.home import DB_FILENAME
from agentcore_nb.memory import Memory, MemoryStoreError
from tests.helpers.procs import cli


@pytest.fixture
def memory(agentcore_home):
    m = Memory.open(agentcore_home)
    yield m
    m.close()


def log_events(m: Memory) -> list[MemoryUpdateEvent]:
    return [
        e for e in m.project.event_log.events(types=["MemoryUpdateEvent"]) if isinstance(e, MemoryUpdateEvent)
    ]


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 384)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_add_many_is_one_event_in_the_log_and_one_per_record_in_events(memory):
    done = memory.add_many(["first note", "second note", "third note"], namespace="notes", actor="ann",
                           metadata={"kind": "n"})  # fmt: skip
    (event,) = log_events(memory)
    assert (event.op, event.namespace, event.record_id, event.record) == ("add", "notes", "", {})
    batch = event.batch
    assert batch["count"] == 3 and batch["ids"] == [r.id for r in done]
    assert batch["texts"] == ["first note", "second note", "third note"]
    assert batch["actors"] == ["ann"] * 3 and batch["metadata"] == [{"kind": "n"}] * 3
    per_record = memory.events(namespace="notes")
    assert [(e.op, e.record_id, e.seq) for e in per_record] == [("add", r.id, event.seq) for r in done]
    assert [e.record["text"] for e in per_record] == ["first note", "second note", "third note"]
    assert {e.run_id for e in per_record} == {event.run_id} and event.run_id
    # a single add keeps the one-record form
    one = memory.add("a lone note", namespace="notes")
    last = log_events(memory)[-1]
    assert (last.record_id, last.record["text"], last.batch) == (one.id, "a lone note", {})


def test_mixed_namespaces_and_sessions_are_one_event_each_and_keep_their_vectors(memory):
    rng = np.random.default_rng(3)
    vecs = unit(rng, 6)
    items = [
        {"text": "a0", "namespace": "a"},
        {"text": "b0", "namespace": "b"},
        {"text": "a1", "namespace": "a"},
        {"text": "a2", "namespace": "a", "session": "s2"},
        {"text": "b1", "namespace": "b"},
        {"text": "c0", "namespace": "c"},
    ]
    done = memory.add_many(items, vectors=vecs, session="s1")
    assert [(r.text, r.namespace, r.session) for r in done] == [
        ("a0", "a", "s1"), ("b0", "b", "s1"), ("a1", "a", "s1"), ("a2", "a", "s2"), ("b1", "b", "s1"),
        ("c0", "c", "s1"),
    ]  # fmt: skip
    events = log_events(memory)
    shape = [(e.namespace, e.session_id, e.batch.get("count", 1)) for e in events]
    assert shape == [("a", "s1", 2), ("b", "s1", 2), ("a", "s2", 1), ("c", "s1", 1)]
    for record, v in zip(done, vecs, strict=True):  # each record found by its own vector
        hit = memory.search(v, k=1)[0]
        assert (hit.record.id, hit.record.text) == (record.id, record.text)
        assert memory.get(record.id).namespace == record.namespace
    assert [e.record_id for e in memory.events(namespace="a")] == [done[0].id, done[2].id, done[3].id]


def test_rebuild_and_replay_read_batch_events(agentcore_home, memory):
    rng = np.random.default_rng(5)
    vecs = unit(rng, 40)
    done = memory.add_many([f"record {i}" for i in range(40)], vectors=vecs, namespace="r")
    memory.forget(done[7].id)
    assert memory.rebuild() == 39
    for i in (0, 13, 39):
        assert memory.search(vecs[i], k=1)[0].record.id == done[i].id
    # a lost projection (a crash between the log's commit and the records' commit) is replayed
    memory.close()
    with duckdb.connect(str(agentcore_home / DB_FILENAME)) as con:
        con.execute("DELETE FROM memory_records")
        con.execute("UPDATE memory_meta SET value = '-1' WHERE key = 'applied_seq'")
        con.execute("UPDATE memory_meta SET value = '0' WHERE key = 'next_label'")
        con.execute("UPDATE memory_meta SET value = '' WHERE key = 'applied_hash'")
    again = Memory.open(agentcore_home)
    try:
        assert again.stats()["live"] == 39 and again.stats()["forgotten"] == 1
        assert again.search(vecs[21], k=1)[0].record.id == done[21].id
        with pytest.raises(MemoryStoreError, match="no memory record"):
            again.get("missing")
    finally:
        again.close()


def test_a_batch_whose_vector_block_is_gone_is_embedded_again_on_rebuild(memory):
    done = memory.add_many(["refund for order 1234", "password reset", "quarterly revenue"], namespace="x")
    db = memory.project.database
    with db.lock:
        db.con.execute("DELETE FROM memory_vectors")
    assert memory.rebuild() == 3
    assert memory.search("password reset", k=1)[0].record.id == done[1].id


def test_agentcore_events_prints_a_batch_as_one_json_line(agentcore_home, subprocess_env, memory):
    memory.add_many(["one", "two", "three"], namespace="cli")
    run_id = log_events(memory)[0].run_id
    memory.close()
    done = cli(subprocess_env, "events", run_id, "--type", "MemoryUpdateEvent")
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    body = json.loads(line)
    assert body["batch"]["count"] == 3 and body["batch"]["texts"] == ["one", "two", "three"]


def test_a_log_written_one_event_per_record_still_replays(agentcore_home):
    """Stores written before batch events: one event per record (no vector block here: embedded)."""
    from agentcore_nb.project import Project
    from agentcore_nb.runtime.emitting import emit

    texts = ["refund for order 1234", "password reset link sent", "quarterly revenue grew"]
    with Project(agentcore_home) as project:
        log = project.event_log
        for i, text in enumerate(texts):
            record = {"id": f"old{i}", "text": text, "actor": "", "session": "", "metadata": {"i": i},
                      "created": 1.0}  # fmt: skip
            emit(MemoryUpdateEvent(op="add", namespace="old", record_id=f"old{i}", record=record), log=log)
        log.flush()
    m = Memory.open(agentcore_home)
    try:
        assert m.stats()["live"] == 3
        assert m.search("password reset", k=1)[0].record.id == "old1"
        assert m.get("old2").metadata == {"i": 2}
        new = m.add_many(["refund for order 999", "another refund"], namespace="old")
        assert [e.record_id for e in m.events(namespace="old")] == ["old0", "old1", "old2"] + [
            r.id for r in new
        ]
        assert m.rebuild() == 5
    finally:
        m.close()
