"""The ``agentcore.graph`` comm across sessions: after a kernel restart (a new session, a new
snapshot, its own runs) and in a stock IPython kernel after ``%load_ext agentcore_nb``."""

from __future__ import annotations

import queue
import time
from pathlib import Path

from .conftest import Kernel, cell_id
from .test_comm_requests import Channel, subshell


def test_the_comm_after_a_kernel_restart(tmp_path: Path):
    k = Kernel("agentcore", str(tmp_path / "home"))
    try:
        first = Channel(k)
        k.ok("a = 1", cell_id())
        (old_run,) = first.ask({"type": "runs"})["runs"]
        assert old_run["kind"] == "notebook" and old_run["status"] == "running"

        k.km.restart_kernel(now=True)
        k.client.wait_for_ready(timeout=60)
        k.stray.clear()
        second = Channel(k)
        assert second.snapshot["session"] != first.snapshot["session"]
        assert second.snapshot["graph"]["nodes"] == []
        assert second.ask({"type": "runs"}) | {"reply_to": ""} == {
            "v": 1, "type": "runs", "reply_to": "", "session": second.snapshot["session"], "runs": [],
        }  # fmt: skip
        k.ok("b = 2", cell_id())
        (new_run,) = second.ask({"type": "runs"})["runs"]
        assert new_run["run_id"] != old_run["run_id"] and new_run["status"] == "running"
        # the old session's run was cut short by the restart; its trace is still there
        old = second.ask({"type": "trace", "run_id": old_run["run_id"]})
        assert old["status"] == "cancelled" and old["spans"]
    finally:
        k.close()


def test_the_comm_in_a_stock_kernel_after_load_ext(tmp_path: Path):
    k = Kernel("python3", str(tmp_path / "home"))
    try:
        comm_id = k.comm_open("agentcore.graph")  # no such target yet: ipykernel closes the comm
        deadline = time.monotonic() + 60
        closed = False
        while not closed:
            try:
                msg = k.client.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("the stock kernel did not close the comm") from None
            closed = msg["header"]["msg_type"] == "comm_close" and msg["content"]["comm_id"] == comm_id
        k.ok("%load_ext agentcore_nb")
        ch = Channel(k)
        k.ok("x = 40", cell_id())
        k.ok("y = x + 2", cell_id())
        (run,) = ch.ask({"type": "runs", "limit": 5})["runs"]
        assert run["kind"] == "notebook" and run["span_count"] >= 2
        trace = ch.ask({"type": "trace", "run_id": run["run_id"]})
        names = [s["name"] for s in trace["spans"]]
        assert "execute_node cell_1" in names and "execute_node cell_2" in names
        err = ch.ask({"type": "trace"})
        assert err["type"] == "error" and 'trace needs "run_id"' in err["error"]
        assert ch.ask({"type": "refresh"})["graph"]["edges"] == [["cell_1", "cell_2"]]
    finally:
        k.close()


def test_a_fresh_kernel_whose_first_message_is_the_comm_on_a_subshell(tmp_path: Path):
    """JupyterLab's start: the comm opens on its own subshell before any cell has run, so the
    kernel's lazy start happens on that subshell's thread."""
    k = Kernel("agentcore", str(tmp_path / "home"))
    try:
        lab = Channel(k, subshell=subshell(k))
        assert lab.snapshot["graph"]["nodes"] == []
        added = k.ok("a = 1", cell_id())
        changes = [
            m["content"]["data"] for m in added.of_type("comm_msg") if m["content"]["comm_id"] == lab.comm_id
        ]
        assert changes and changes[-1]["changes"][0]["op"] == "node_added"
        assert k.ok("%graph stale").stdout.strip() == "no stale cells"  # the magics are registered
        (run,) = lab.ask({"type": "runs"})["runs"]
        assert run["kind"] == "notebook" and run["span_count"] >= 1
    finally:
        k.close()
