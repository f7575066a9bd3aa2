"""Every cell is a node execution of the session's notebook run, on the real kernel: the run, the
node events of each cell, interactive ``%%node`` policies, restarts and a kernel killed mid-cell."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from .conftest import Kernel

EVENTS = (
    "[{'type': e.type, 'run': e.run_id, 'node': e.node_id, 'session': e.session_id, 'trace': e.trace_id,"
    " **{k: getattr(e, k) for k in ('attempt', 'kind', 'error_type', 'final', 'via', 'fallback', 'status',"
    " 'duration_ms', 'parent_run_id', 'parent_node_id', 'graph_name', 'cell_id', 'source_hash')"
    " if hasattr(e, k)}}"
    " for e in get_ipython()._agentcore_session.project.event_log.events(RUN)]"
)


def session_run(k: Kernel) -> str:
    return str(k.value("get_ipython()._agentcore_session.run_id"))


def run_events(k: Kernel, run_id: str | None = None) -> list[dict[str, Any]]:
    return k.value(EVENTS.replace("RUN", repr(run_id or session_run(k))))  # type: ignore[no-any-return]


def of(events: list[dict[str, Any]], node: str, *types: str) -> list[dict[str, Any]]:
    return [e for e in events if e["node"] == node and (not types or e["type"] in types)]


def test_each_cell_is_a_node_execution_of_one_notebook_run(fresh: Kernel):
    k = fresh
    run_id = session_run(k)
    assert f"run: {run_id}" in k.ok("%agentcore").stdout
    assert f"run: {run_id}" in k.ok("%graph show --text").stdout
    k.ok("base = 2", "n1")
    k.ok("square = base ** 2\nsquare", "n2")
    failed = k.run("oops = 1 / 0", "n3")
    assert failed.reply["content"]["ename"] == "ZeroDivisionError"
    log = run_events(k)
    assert log[0]["type"] == "RunProvisioned" and log[0]["run"] == run_id
    kinds = k.value(
        "[e.kind for e in get_ipython()._agentcore_session.project.event_log.events("
        f"{run_id!r}, types=['RunProvisioned'])]"
    )
    assert kinds == ["notebook"]
    assert all(e["run"] == run_id for e in log)  # no event without its run
    session = k.value("get_ipython()._agentcore_session.session_id")
    assert {e["session"] for e in log} == {session}
    assert [e["type"] for e in of(log, "cell_1")][-2:] == ["NodeStarted", "NodeSucceeded"]
    started = of(log, "cell_1", "NodeStarted")[-1]
    assert started["cell_id"] == "n1" and started["attempt"] == 1
    assert started["source_hash"] == hashlib.sha256(b"base = 2").hexdigest()[:16]
    done = of(log, "cell_2", "NodeSucceeded")[-1]
    assert done["attempt"] == 1 and done["duration_ms"] >= 0 and done["kind"] == "python"
    bad = of(log, "cell_3", "NodeFailed")[-1]
    assert bad["error_type"] == "ZeroDivisionError" and bad["final"] is True
    # the node's cell id and source hash are on its span; the events say which cell ran, in order
    order = [e["node"] for e in log if e["type"] == "NodeStarted"]
    assert order[-3:] == ["cell_1", "cell_2", "cell_3"]
    assert failed.errors[0]["traceback"][0].count("\n") == 0 and len(failed.errors[0]["traceback"]) > 1


def test_retries_run_the_body_again_with_backoff_and_only_the_last_failure_shows(fresh: Kernel):
    k = fresh
    k.ok("attempts = {'n': 0}", "r1")
    flaky = k.run(
        "%%node flaky --retries 3\nattempts['n'] += 1\nif attempts['n'] < 3:\n"
        "    raise RuntimeError(f\"attempt {attempts['n']}\")\nresult = attempts['n']\nresult",
        "r2",
    )
    assert flaky.status == "ok" and flaky.errors == []
    assert flaky.data[-1]["text/plain"] == "3"
    notes = flaky.stderr.splitlines()
    assert len(notes) == 2 and notes[0].startswith(
        "agentcore: flaky attempt 1 failed (RuntimeError: attempt 1)"
    )
    log = of(run_events(k), "flaky")
    assert [(e["type"], e.get("attempt")) for e in log] == [
        ("NodeStarted", 1),
        ("NodeFailed", 1),
        ("NodeRetried", 2),
        ("NodeStarted", 2),
        ("NodeFailed", 2),
        ("NodeRetried", 3),
        ("NodeStarted", 3),
        ("NodeSucceeded", 3),
    ]
    assert [e["final"] for e in log if e["type"] == "NodeFailed"] == [False, False]

    hopeless = k.run("%%node hopeless --retries 1\nraise ValueError('never')", "r3")
    assert hopeless.status == "error" and len(hopeless.errors) == 1  # one traceback: the last attempt's
    assert hopeless.errors[0]["ename"] == "ValueError"
    failed = of(run_events(k), "hopeless", "NodeFailed")
    assert [(e["attempt"], e["final"]) for e in failed] == [(1, False), (2, True)]


def test_timeout_interrupts_the_cell_with_one_line(fresh: Kernel):
    k = fresh
    t0 = time.monotonic()
    slow = k.run(
        "%%node slow --timeout 0.5\nimport time\ntry:\n    time.sleep(30)\nexcept Exception:\n"
        "    pass  # a timeout is not an Exception: this does not swallow it\nfinished = True",
        "t1",
        timeout=30,
    )
    assert time.monotonic() - t0 < 15
    assert slow.status == "error" and slow.reply["content"]["ename"] == "CellTimeout"
    assert slow.errors[0]["traceback"] == ["CellTimeout: cell 'slow' timed out after 0.5s (%%node --timeout)"]
    assert k.value("'finished' in globals()") is False
    failed = of(run_events(k), "slow", "NodeFailed")[-1]
    assert failed["error_type"] == "CellTimeout" and failed["final"] is True
    # no alarm is left behind: a cell without a policy runs as long as it takes
    assert k.ok("import time\ntime.sleep(0.8)\n'woke'", "t2").data[-1]["text/plain"] == "'woke'"
    assert k.snapshot()["nodes"][0]["state"] == "failed"


def test_fallback_runs_the_other_cells_code_in_its_place(fresh: Kernel):
    k = fresh
    k.ok("%%node cached\nanswer = 'cached'", "f1")
    out = k.run(
        "%%node live --timeout 0.3 --fallback cached\nimport time\ntime.sleep(20)\nanswer = 'live'", "f2"
    )
    assert out.status == "ok" and out.errors == []
    assert k.value("answer") == "cached"
    assert "agentcore: live failed (CellTimeout: cell 'live' timed out after 0.3s" in out.stderr
    log = run_events(k)
    live = of(log, "live")
    assert [e["type"] for e in live] == ["NodeStarted", "NodeFailed", "NodeRerouted", "NodeSucceeded"]
    assert live[2]["fallback"] == "cached" and live[3]["via"] == "cached"
    assert [e["type"] for e in of(log, "cached")][-2:] == ["NodeStarted", "NodeSucceeded"]

    missing = k.run("%%node lonely --fallback nowhere\nraise KeyError('k')", "f3")
    assert missing.status == "error" and missing.reply["content"]["ename"] == "KeyError"
    assert "no fallback cell 'nowhere'" in missing.stderr


def test_restart_starts_a_new_run_and_a_killed_kernel_leaves_no_node_running(tmp_path):
    home = str(tmp_path)
    k = Kernel("agentcore", home)
    try:
        k.ok("a = 1", "k1")
        first = session_run(k)
        # a cell still running when the kernel dies (its start is committed first)
        msg_id = k.send(
            "import time\nget_ipython()._agentcore_session.project.event_log.flush()\n"
            "print('sleeping', flush=True)\ntime.sleep(60)",
            "k2",
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            msg = k.client.get_iopub_msg(timeout=30)
            if msg["parent_header"].get("msg_id") == msg_id and msg["header"]["msg_type"] == "stream":
                break
        k.km.restart_kernel(now=True)  # kills the process mid-cell
        k.client.wait_for_ready(timeout=60)
        k.stray.clear()
        k.ok("b = 2", "k3")
        second = session_run(k)
        assert second != first
        old = run_events(k, first)
        assert old[-2]["type"] == "RunExecuted" and old[-2]["status"] == "cancelled"
        interrupted = of(old, "cell_2", "NodeFailed")
        assert (
            len(interrupted) == 1
            and interrupted[0]["error_type"] == "Interrupted"
            and interrupted[0]["final"]
        )
        statuses = k.value(
            "{r.run_id: (r.kind, r.status) for r in get_ipython()._agentcore_session.project.event_log.runs()}"
        )
        assert statuses[first] == ["notebook", "cancelled"] and statuses[second] == ["notebook", "incomplete"]
        # a clean shutdown ends the run itself
        k.client.stop_channels()
        k.km.shutdown_kernel(now=False)
        from agentcore_nb.eventlog.duckdb import DuckDBEventLog

        with DuckDBEventLog(tmp_path / "agentcore.duckdb") as log:
            status = {r.run_id: r.status for r in log.runs()}
        assert status[second] == "succeeded"
    finally:
        if k.km.has_kernel:
            k.km.shutdown_kernel(now=True)


SPANS = (
    "(lambda p: (p.tracing.flush(), [(s.span_id, s.start_ns, s.end_ns, s.attributes.get('agentcore.cell.id'))"
    " for s in p.tracing.store.spans(RUN)])[1])(get_ipython()._agentcore_session.project)"
)


def test_a_cells_success_is_recorded_after_its_reply_and_never_lost(tmp_path):
    """In the kernel a cell's ``NodeSucceeded``, span end and graph update are done once its reply is
    out; they keep the cell's own times, come before anything the next request does, and a
    shutdown right after the cell still writes them."""
    k = Kernel("agentcore", str(tmp_path))
    try:
        k.ok("x = 1", "r1")
        k.ok("y = x + 1", "r2")  # nothing between the two requests but the loop
        run_id = session_run(k)
        log = run_events(k, run_id)
        assert [e["type"] for e in log if e["node"] in ("cell_1", "cell_2")] == [
            "NodeStarted",
            "NodeSucceeded",
            "NodeStarted",
            "NodeSucceeded",
        ]
        assert {e["trace"] for e in log} == {log[0]["trace"]} and log[0]["trace"]
        edges = k.value("get_ipython()._agentcore_session.cells.edges()")
        assert edges == [["cell_1", "cell_2"]]  # the graph was updated before this request ran
        times = k.value(
            "[(e.node_id, e.type, e.ts, e.span_id) for e in get_ipython()._agentcore_session.project"
            f".event_log.events({run_id!r}) if e.node_id in ('cell_1', 'cell_2')]"
        )
        spans = {s[3]: s for s in k.value(SPANS.replace("RUN", repr(run_id)))}
        for node, cell_id in (("cell_1", "r1"), ("cell_2", "r2")):
            span_id, start_ns, end_ns, _ = spans[cell_id]
            started, done = [t for t in times if t[0] == node]
            assert started[3] == done[3] == span_id  # both events inside the cell's span
            assert start_ns <= started[2] * 1e9 + 1e6 and end_ns <= done[2] * 1e9 + 1e6
        # a clean shutdown straight after a cell's reply loses none of it
        k.ok("z = y * 2", "r3")
        k.client.stop_channels()
        k.km.shutdown_kernel(now=False)
        from agentcore_nb.eventlog.duckdb import DuckDBEventLog

        with DuckDBEventLog(tmp_path / "agentcore.duckdb") as db:
            last = [e.type for e in db.events(run_id) if e.node_id == "cell_3"]
            status = {r.run_id: r.status for r in db.runs()}
        assert last == ["NodeStarted", "NodeSucceeded"] and status[run_id] == "succeeded"
    finally:
        if k.km.has_kernel:
            k.km.shutdown_kernel(now=True)


def test_a_cells_bookkeeping_waits_for_its_idle_status_to_be_sent(fresh: Kernel):
    """The AgentCore kernel runs a cell's after-reply work once the IOPub thread has sent the cell's
    idle status (it takes nothing from the round trip), and before the next request."""
    k = fresh
    k.ok(
        "_order = []\n"
        "_kernel = get_ipython().kernel\n"
        "_sock = _kernel.iopub_thread.socket\n"
        "class _Socket:\n"
        "    def __getattr__(self, name):\n"
        "        return getattr(_sock, name)\n"
        "    def send_multipart(self, msg, *args, **kwargs):\n"
        "        if any(isinstance(f, bytes) and b'\"idle\"' in f for f in msg):\n"
        "            _order.append('idle sent')  # noted first: the client may answer at once\n"
        "        return _sock.send_multipart(msg, *args, **kwargs)\n"
        "_kernel.iopub_thread.socket = _Socket()\n"
        "_runner = get_ipython()._agentcore_session.runner\n"
        "_drain = _runner.drain\n"
        "def _traced():\n"
        "    _order.append(f'drain {len(_runner._later)}')\n"
        "    _drain()\n"
        "_runner.drain = _traced"
    )
    try:
        k.ok("_order.clear()")
        for i in range(3):
            k.ok(f"v{i} = {i}", f"idle{i}")
        order = k.value("[o for o in _order if o != 'drain 0']")  # 'drain 0': nothing was left
        # each cell: its idle status out, then its work (NodeSucceeded, span end, graph update)
        assert order[-6:] == ["idle sent", "drain 2"] * 3, order
        log = run_events(k)  # read straight after the cell: its success is in the log
        node = [e["node"] for e in log if e.get("cell_id") == "idle2"][-1]
        assert [e["type"] for e in log if e["node"] == node][-2:] == ["NodeStarted", "NodeSucceeded"]
    finally:
        k.ok("_kernel.iopub_thread.socket = _sock\n_runner.drain = _drain")
