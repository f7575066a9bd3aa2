"""Real processes: a writer SIGKILLed in the middle of add_many, and two processes on one store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

from agentcore_nb.memory import Memory

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
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER], env=subprocess_env, stdout=subprocess.PIPE, text=True
    )
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
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        env=subprocess_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        out = subprocess.run(
            [sys.executable, "-m", "agentcore_nb.cli", "memory", "search", "held", "--json"],
            env=subprocess_env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout.splitlines()[0])["text"] == "held by another process"
    finally:
        proc.communicate("\n", timeout=30)
    out = subprocess.run(
        [sys.executable, "-m", "agentcore_nb.cli", "memory", "search", "held", "--json"],
        env=subprocess_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[0])["text"] == "held by another process"
