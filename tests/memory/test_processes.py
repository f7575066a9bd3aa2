"""Real processes: a writer SIGKILLed in the middle of add_many, and two processes on one store."""

from __future__ import annotations

import json
import os
import signal
import textwrap

from agentcore_nb.memory import Memory

from ..helpers.procs import cli, python_child

WRITER = textwrap.dedent(
    """
    import json, sys
    from agentcore_nb.memory import Memory
    m = Memory.open()
    batch = 0
    while True:
        items = [f"crash note {batch}-{i} about order {batch * 1000 + i}" for i in range(200)]
        done = m.add_many(items, namespace="crash", metadata={"batch": batch})
        print(json.dumps([[r.id, r.text] for r in done]), flush=True)
        batch += 1
    """
)


def test_sigkill_mid_add_many_loses_no_returned_record(agentcore_home, subprocess_env):
    proc = python_child(WRITER, subprocess_env)
    returned = []
    try:
        for _ in range(6):
            line = proc.stdout.readline()
            assert line, "writer died early"
            returned += json.loads(line)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    m = Memory.open(agentcore_home)
    try:
        for record_id, text in returned:
            assert m.get(record_id).text == text
        for record_id, text in returned[::97]:
            assert m.search(text, k=1, namespace="crash")[0].record.id == record_id
        # nothing half-written: every visible record is whole, and exactly the committed adds
        adds = [e for e in m.events(namespace="crash") if e.op == "add"]
        listed = m.list(namespace="crash", limit=100_000)
        assert len(listed) == len(adds) >= len(returned)
        assert all(r.text.startswith("crash note") and "batch" in r.metadata for r in listed)
        assert m.stats()["indexed"] == len(listed)
    finally:
        m.close()


HOLDER = textwrap.dedent(
    """
    import sys
    from agentcore_nb.memory import Memory
    m = Memory.open()
    m.add("held by another process", namespace="lock")
    print("ready", flush=True)
    sys.stdin.readline()
    m.close()
    """
)


def test_a_second_process_uses_the_store_through_its_owner(subprocess_env):
    proc = python_child(HOLDER, subprocess_env, stdin=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        out = cli(subprocess_env, "memory", "search", "held", "--json")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout.splitlines()[0])["text"] == "held by another process"
    finally:
        proc.communicate("\n", timeout=30)
    out = cli(subprocess_env, "memory", "search", "held", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[0])["text"] == "held by another process"


CHECKPOINTED_WRITER = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    from agentcore_nb.memory import Memory
    from agentcore_nb.memory.checkpoint import Checkpointer
    Checkpointer.MIN_RECORDS = 300   # a checkpoint per 300 changed records (at this size)
    Checkpointer.EVERY_SECONDS = 3600  # and none by time during this test
    rng = np.random.default_rng(5)
    m = Memory.open()
    ids = []
    for batch in range(4):
        v = rng.normal(size=(150, 384)).astype(np.float32)
        ids += [r.id for r in m.add_many([f"note {batch}-{i}" for i in range(150)], vectors=v)]
    m.flush()  # the due background checkpoint(s) written
    status = m.index_status()
    v = rng.normal(size=(50, 384)).astype(np.float32)
    ids += [r.id for r in m.add_many([f"late note {i}" for i in range(50)], vectors=v)]
    print(json.dumps({"ids": ids, "checkpoints": status["checkpoints"], "unsaved": status["unsaved"]}), flush=True)
    time.sleep(600)
    """
)


def test_sigkill_after_checkpoints_reopens_with_a_top_up(agentcore_home, subprocess_env, caplog):
    import numpy as np

    proc = python_child(CHECKPOINTED_WRITER, subprocess_env)
    try:
        line = proc.stdout.readline()
        assert line, "writer died early"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    report = json.loads(line)
    assert report["checkpoints"] >= 1
    with caplog.at_level("INFO", logger="agentcore_nb.memory"):
        m = Memory.open(agentcore_home)
    try:
        expected = report["unsaved"] + 50  # what no checkpoint held when the process was killed
        assert (m.index_opening.action, m.index_opening.applied) == ("topped-up", expected)
        assert f"topped up {expected} records" in caplog.text
        assert m.index_opening.records == 650
        rng = np.random.default_rng(5)
        vecs = np.concatenate([rng.normal(size=(150, 384)) for _ in range(4)] + [rng.normal(size=(50, 384))])
        for record_id, v in list(zip(report["ids"], vecs, strict=True))[::3]:
            assert m.search(v.astype(np.float32), k=1)[0].record.id == record_id
    finally:
        m.close()


def test_a_checkpoint_by_time_saves_a_few_records(agentcore_home, monkeypatch):
    from agentcore_nb.memory.checkpoint import Checkpointer

    monkeypatch.setattr(Checkpointer, "EVERY_SECONDS", 0.2)
    m = Memory.open(agentcore_home)
    m.add_many(["one small note", "and another"], namespace="t")
    assert m._checkpointer.wait_saves(1, timeout=60), "no checkpoint within a minute"
    assert m.index_status()["unsaved"] == 0
    # as after a crash: the next open loads the checkpoint and has nothing to top up
    m._closed = True
    m._checkpointer.close()
    m.project.close()
    again = Memory.open(agentcore_home)
    try:
        assert (again.index_opening.action, again.index_opening.applied) == ("loaded", 0)
        assert again.search("small note", k=1)[0].record.text == "one small note"
    finally:
        again.close()
