"""The frontend's requests on the ``agentcore.graph`` comm (runs, trace, export), answered by the
real AgentCore kernel over jupyter_client: ``reply_to``, a session's runs newest first (a child
``%agent`` run included), an agent run's spans, a trace answered on a subshell while a cell runs,
export and refusal, and bad requests (one line each; the comm keeps working)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import nbformat
import pytest

from .conftest import Kernel, cell_id

TOOL = '''%%tool
def getOrderStatus(order_id: str) -> dict:
    """Where an order is.

    Args:
        order_id: The order number.
    """
    return {"order_id": order_id, "status": {"1234": "delivered"}.get(order_id, "unknown")}'''


class Channel:
    """One frontend's comm to ``agentcore.graph``: requests with ids, answers matched by reply_to."""

    def __init__(self, k: Kernel, subshell: str | None = None) -> None:
        self.k = k
        #: JupyterLab 4.4+ sends a comm's messages on a subshell of its own (per comm target).
        self.subshell = subshell
        self.comm_id = uuid.uuid4().hex
        msg = k.client.session.msg(
            "comm_open", {"comm_id": self.comm_id, "target_name": "agentcore.graph", "data": {}}
        )
        if subshell is not None:
            msg["header"]["subshell_id"] = subshell
        k.client.shell_channel.send(msg)
        (snap,) = k.comm_messages(self.comm_id, 1)
        self.snapshot: dict[str, Any] = snap["content"]["data"]
        assert self.snapshot["type"] == "snapshot"

    def send(self, data: dict[str, Any], subshell: str | None = None) -> str:
        rid = uuid.uuid4().hex[:10]
        msg = self.k.client.session.msg("comm_msg", {"comm_id": self.comm_id, "data": {**data, "id": rid}})
        subshell = subshell or self.subshell
        if subshell is not None:
            msg["header"]["subshell_id"] = subshell
        self.k.client.shell_channel.send(msg)
        return rid

    def raw(self, data: Any) -> None:
        self.k.comm_send(self.comm_id, data)

    def answer(self, rid: str | None, timeout: float = 120) -> dict[str, Any]:
        """The answer to request ``rid`` (None: the next answer without reply_to)."""
        deadline = time.monotonic() + timeout
        while True:
            for m in self.k.stray:
                if m["header"]["msg_type"] == "comm_msg" and m["content"]["comm_id"] == self.comm_id:
                    data = m["content"]["data"]
                    if data.get("type") != "changes" and data.get("reply_to") == rid:
                        self.k.stray.remove(m)
                        return data  # type: ignore[no-any-return]
            try:
                self.k.stray.append(
                    self.k.client.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
                )
            except queue.Empty:
                raise TimeoutError(f"no answer to {rid}") from None

    def ask(self, data: dict[str, Any], subshell: str | None = None) -> dict[str, Any]:
        return self.answer(self.send(data, subshell))


def subshell(k: Kernel) -> str:
    """A kernel subshell (JEP 91): its shell messages run on their own thread."""
    msg = k.client.session.msg("create_subshell_request", {})
    k.client.control_channel.send(msg)
    reply = k.client.control_channel.get_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
        reply = k.client.control_channel.get_msg(timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]
    return str(reply["content"]["subshell_id"])


def notebook_run(k: Kernel) -> str:
    return str(k.value("get_ipython()._agentcore_session.run_id"))


def chdir(k: Kernel, path: Path) -> None:
    k.value(f"__import__('os').chdir({str(path)!r})")


@pytest.fixture(scope="module")
def channel(kernel: Kernel) -> Channel:
    kernel.ok("%reset -f\n%graph reset")
    kernel.stray.clear()
    return Channel(kernel)


def test_runs_newest_first_with_a_child_agent_run_and_its_trace(kernel: Kernel, channel: Channel):
    k, ch = kernel, channel
    k.ok("a = 1", cell_id())
    k.ok("b = a + 1", cell_id())
    k.ok("%graph run", cell_id())
    k.ok("%model offline", cell_id())
    k.ok(TOOL, cell_id())
    k.ok("%%agent helper --tools getOrderStatus\nYou check orders.", cell_id())
    k.ok('%agent helper "Where is my order 1234?"', cell_id())
    agent_run = k.value("_agent_result.run_id")
    nb_run = notebook_run(k)

    runs = ch.ask({"type": "runs", "limit": 50})
    assert runs["type"] == "runs" and runs["session"] == ch.snapshot["session"]
    listed = runs["runs"]
    assert [r["started_at"] for r in listed] == sorted((r["started_at"] for r in listed), reverse=True)
    by_id = {r["run_id"]: r for r in listed}
    assert listed[0]["run_id"] == agent_run  # the newest
    assert listed[-1]["run_id"] == nb_run and listed[-1]["kind"] == "notebook"
    assert by_id[nb_run]["status"] == "running" and by_id[nb_run]["ended_at"] is None
    agent = by_id[agent_run]
    assert agent["parent_run_id"] == nb_run and agent["status"] == "succeeded"
    assert agent["kind"] == "agent" and agent["name"] == "helper"
    assert agent["ended_at"] >= agent["started_at"] and agent["span_count"] > 0
    (graph_run,) = [r for r in listed if r["kind"] == "graph"]
    assert graph_run["status"] == "succeeded" and graph_run["parent_run_id"] == nb_run
    assert ch.ask({"type": "runs", "limit": 1})["runs"] == [listed[0]]

    trace = ch.ask({"type": "trace", "run_id": agent_run})
    assert trace["type"] == "trace" and trace["run_id"] == agent_run and trace["status"] == "succeeded"
    spans = trace["spans"]
    names = [s["name"] for s in spans]
    for prefix in ("invoke_agent", "execute_tool getOrderStatus", "chat"):
        assert any(n.startswith(prefix) for n in names), (prefix, names)
    ids = {s["span_id"] for s in spans}
    roots = [s for s in spans if s["parent_span_id"] is None]
    assert len(roots) == 1 and roots[0]["start_ms"] == 0
    assert all(s["parent_span_id"] in ids for s in spans if s is not roots[0])
    assert all(s["duration_ms"] is not None and s["duration_ms"] >= 0 for s in spans)
    assert all(s["status"] in ("ok", "unset", "error") for s in spans)
    tool = next(s for s in spans if s["name"].startswith("execute_tool"))
    assert tool["attributes"]["gen_ai.tool.name"] == "getOrderStatus"
    assert trace["header"]["spans"] == len(spans)
    # the same rows the %trace widget draws
    widget = k.value(
        f"[r['name'] for r in __import__('agentcore_nb.notebook.views.trace', fromlist=['x'])"
        f".TraceWidget(get_ipython()._agentcore_session.project.tracing, {agent_run!r}).rows]"
    )
    assert widget == names


def test_trace_while_a_cell_runs_on_a_subshell_and_after_it_on_the_main_shell(
    kernel: Kernel, channel: Channel, tmp_path: Path
):
    k, ch = kernel, channel
    gate = tmp_path / "gate"
    gate.write_text("open")
    k.ok(f"import pathlib, time\ngate = pathlib.Path({str(gate)!r})", cell_id())
    k.ok("deadline = time.monotonic() + 120\nwhile not gate.exists() and time.monotonic() < deadline:\n"
         "    time.sleep(0.02)\nwaited = gate.exists()", cell_id())  # fmt: skip
    name = k.graph()["nodes"][-1]["name"]
    gate.unlink()
    sub = subshell(k)
    k.stray.clear()
    cell = k.send(f"%graph run --only {name}", cell_id())
    # the run's id arrives in the change feed (sent by the running cell)
    run_id = None
    while run_id is None:
        msg = k.client.get_iopub_msg(timeout=120)
        k.stray.append(msg)
        data = msg["content"].get("data", {}) if msg["header"]["msg_type"] == "comm_msg" else {}
        run_id = next((c["run_id"] for c in data.get("changes", []) if c["op"] == "run_started"), None)
    on_main = ch.send({"type": "trace", "run_id": run_id})
    live = ch.ask({"type": "trace", "run_id": run_id}, subshell=sub)  # answered while the cell runs
    assert live["status"] == "running"
    open_spans = [s for s in live["spans"] if s["duration_ms"] is None]
    assert {s["name"] for s in open_spans} >= {f"execute_node {name}"}
    assert all(s["status"] == "unset" for s in open_spans)
    running = {r["run_id"]: r for r in ch.ask({"type": "runs"}, subshell=sub)["runs"]}
    assert running[run_id]["status"] == "running"
    # the main shell is busy with the cell: its request has no answer yet
    assert not [
        m
        for m in k.stray
        if m["header"]["msg_type"] == "comm_msg" and m["content"]["data"].get("reply_to") == on_main
    ]
    gate.write_text("open")
    result = k.collect(cell, timeout=120)
    assert result.status == "ok", result.errors
    after = ch.answer(on_main)  # answered once the cell ended
    assert after["status"] == "succeeded" and all(s["duration_ms"] is not None for s in after["spans"])


def _nb(cells: list[tuple[str, str, list[str]]]) -> dict[str, Any]:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "agentcore", "display_name": "AgentCore", "language": "python"}
    for cid, source, tags in cells:
        c = nbformat.v4.new_code_cell(source, id=cid)
        if tags:
            c.metadata["tags"] = tags
        nb.cells.append(c)
    return json.loads(nbformat.writes(nb))  # type: ignore[no-any-return]


def test_export_writes_a_bundle_that_runs_and_refusals_name_cells(
    kernel: Kernel, channel: Channel, tmp_path: Path
):
    k, ch = kernel, channel
    chdir(k, tmp_path)
    good = _nb(
        [
            ("p1", "x = 2", ["parameters"]),
            ("s1", "y = x * 3", []),
            ("o1", "result = {'y': y}\nresult", ["output"]),
        ]
    )
    done = ch.ask(
        {"type": "export", "notebook": good, "path": "build/demo-bundle", "notebook_path": "sub/demo.ipynb"}
    )
    assert done["type"] == "exported", done
    bundle = Path(done["path"])
    assert bundle == tmp_path / "build" / "demo-bundle" and (bundle / "graph.json").exists()
    assert done["nodes"] == ["cell_s1", "cell_o1"]
    assert json.loads((bundle / "manifest.json").read_text())["notebook"]["name"] == "demo.ipynb"
    env = {kk: v for kk, v in os.environ.items() if kk not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env["AGENTCORE_HOME"] = str(tmp_path / "home")
    ran = subprocess.run(
        [sys.executable, "-m", "agentcore_nb.cli", "run", "local", str(bundle), "--input", '{"x": 5}', "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    out = json.loads(ran.stdout.strip().splitlines()[-1])
    assert out["status"] == "succeeded" and out["result"] == {"y": 15}

    bad = _nb(
        [
            ("ok1", "y = 1", []),
            ("syn1", "%%node broken\nz = (", []),
            ("out1", "a = y\na", ["output"]),
            ("out2", "b = y\nb", ["output"]),
        ]
    )
    refused = ch.ask({"type": "export", "notebook": bad, "path": "build/bad-bundle", "notebook_path": None})
    assert refused["type"] == "export_refused", refused
    assert refused["message"].startswith("cannot export notebook.ipynb") and "\n" not in refused["message"]
    cells = [p["cell_id"] for p in refused["problems"]]
    assert "syn1" in cells
    syn = next(p for p in refused["problems"] if p["cell_id"] == "syn1")
    assert syn["node"] == "broken" and "syntax" in syn["message"]
    assert (syn["kind"], syn["index"]) == ("syntax", 2)
    several = refused["problems"][-1]
    assert several["kind"] == "output" and several["cell_id"] is None and several["index"] is None
    assert several["node"] is None and "out1" in several["message"]
    assert all(set(p) == {"kind", "cell_id", "index", "node", "message"} for p in refused["problems"])
    assert not (tmp_path / "build" / "bad-bundle").exists()
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == ["demo-bundle"]  # no temp leftovers


def test_bad_requests_get_one_line_and_the_comm_keeps_working(
    kernel: Kernel, channel: Channel, tmp_path: Path
):
    k, ch = kernel, channel
    tmp_path = tmp_path / "work"
    tmp_path.mkdir()
    chdir(k, tmp_path)
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("mine")
    good = _nb([("s1", "y = 3", [])])
    cases: list[tuple[dict[str, Any], str]] = [
        ({"type": "launch"}, "unknown request type 'launch'"),
        ({}, "unknown request type None"),
        ({"type": "trace"}, 'trace needs "run_id"'),
        ({"type": "trace", "run_id": 7}, 'trace needs "run_id"'),
        ({"type": "trace", "run_id": "no-such-run"}, "unknown run 'no-such-run'"),
        ({"type": "runs", "limit": 0}, "limit must be an integer from 1 to 1000"),
        ({"type": "runs", "limit": 5000}, "limit must be an integer from 1 to 1000"),
        ({"type": "runs", "limit": "ten"}, "limit must be an integer"),
        ({"type": "runs", "limit": True}, "limit must be an integer"),
        ({"type": "export", "notebook": "{not json", "path": "b"}, "nbformat v4 JSON"),
        (
            {
                "type": "export",
                "notebook": {
                    "cells": [{"cell_type": "code"}],
                    "nbformat": 4,
                    "nbformat_minor": 5,
                    "metadata": {},
                },
                "path": "b",
            },
            "not valid nbformat v4",
        ),  # fmt: skip
        ({"type": "export", "notebook": {"cells": [], "nbformat": 3}, "path": "b"}, "must be nbformat 4"),
        ({"type": "export", "notebook": good}, '"path" must be the bundle folder'),
        ({"type": "export", "notebook": good, "path": "afile/bundle"}, "cannot write the bundle to"),
        ({"type": "export", "notebook": good, "path": "mine"}, "exists and is not a bundle"),
        ({"type": "export", "notebook": good, "path": "b", "notebook_path": "x.py"}, "ending in .ipynb"),
    ]
    for request, expected in cases:
        err = ch.ask(request)
        assert err["type"] == "error", (request, err)
        assert expected in err["error"], (request, err["error"])
        assert "\n" not in err["error"] and "Traceback" not in err["error"]
    assert (tmp_path / "afile").read_text() == "not a folder"
    assert not (tmp_path / "b").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["afile", "mine"]
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["keep.txt"]
    # without an id, or not even an object: still one error line, no reply_to
    for raw, expected in (
        ([1, 2], "a request is a JSON object"),
        ({"type": "runs", "id": 5}, '"id" must be a string'),
    ):
        ch.raw(raw)
        err = ch.answer(None)
        assert err["type"] == "error" and expected in err["error"] and "reply_to" not in err
    snap = ch.ask({"type": "refresh"})
    assert snap["type"] == "snapshot" and snap["session"] == ch.snapshot["session"]


def test_graph_run_stale_runs_stale_cells_and_their_dependents(kernel: Kernel, channel: Channel):
    k = kernel
    k.ok("%graph reset")
    k.ok("base = 1", "st1")
    k.ok("mid = base + 1", "st2")
    k.ok("top = mid * 10", "st3")
    k.ok("other = 7", "st4")
    assert "no stale cells: nothing to run" in k.ok("%graph run --stale").stdout
    k.ok("base = 5", "st1")
    nodes = {n["name"]: n for n in k.graph()["nodes"]}
    stale = [n["name"] for n in k.snapshot()["nodes"] if n["state"] == "stale"]
    assert len(stale) == 2 and all(n in nodes for n in stale)
    ran = k.ok("%graph run --stale")
    started = [
        c
        for m in ran.of_type("comm_msg")
        for c in m["content"]["data"].get("changes", [])
        if c["op"] == "run_started"
    ]
    assert started and started[0]["nodes"] == stale
    assert k.value("top") == 60 and k.value("mid") == 6
    assert [n["state"] for n in k.snapshot()["nodes"]] == ["fresh"] * 4


def test_a_comm_on_a_subshell_as_jupyterlab_opens_it_stays_consistent_with_the_cells(kernel: Kernel):
    k = kernel
    k.ok("%graph reset")
    lab = Channel(k, subshell=subshell(k))
    seqs = [lab.snapshot["seq"]]
    asked = []
    for i in range(6):  # each refresh is answered on the subshell's thread while the cell runs
        asked.append(lab.send({"type": "refresh"}))
        ran = k.ok(f"v{i} = v{i - 1} + 1" if i else "v0 = 0", cell_id())
        seqs += [
            m["content"]["data"]["seq"]
            for m in ran.of_type("comm_msg")
            if m["content"]["comm_id"] == lab.comm_id
        ]
    answers = [lab.answer(rid) for rid in asked]
    assert [a["type"] for a in answers] == ["snapshot"] * 6
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # the feed: one seq per change, no gap
    assert all(seqs[0] <= a["seq"] <= seqs[-1] for a in answers)  # each snapshot: the last change it holds
    last = lab.ask({"type": "refresh"})
    assert last["graph"] == k.snapshot() and len(last["graph"]["nodes"]) == 6
    assert last["graph"]["edges"] == [[f"cell_{i}", f"cell_{i + 1}"] for i in range(1, 6)]
    runs = lab.ask({"type": "runs", "limit": 3})
    assert runs["type"] == "runs" and runs["runs"][-1]["kind"] in ("notebook", "graph", "agent")
