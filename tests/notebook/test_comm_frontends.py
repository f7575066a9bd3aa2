"""Two frontends on one kernel's ``agentcore.graph`` comm (two notebook views, or JupyterLab and a
script): ``seq`` numbers the change feed only, so one frontend's requests and their answers never
look like a lost message to the other; answers are matched by ``reply_to`` and carry no ``seq``."""

from __future__ import annotations

import queue
import time
from typing import Any

from .conftest import Kernel, cell_id
from .test_comm_requests import Channel, subshell


def _log_until(k: Kernel, done: Any, timeout: float = 120) -> list[dict[str, Any]]:
    """Every iopub message, in arrival order, until ``done(log)`` holds."""
    log, deadline = list(k.stray), time.monotonic() + timeout
    k.stray.clear()
    while not done(log):
        try:
            log.append(k.client.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic())))
        except queue.Empty:
            raise TimeoutError("the kernel did not answer every request and finish every cell") from None
    return log


def _on(log: list[dict[str, Any]], comm_id: str) -> list[dict[str, Any]]:
    return [
        m["content"]["data"]
        for m in log
        if m["header"]["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id
    ]


def test_two_frontends_see_a_gapless_feed_and_only_their_own_answers(kernel: Kernel):
    k = kernel
    k.ok("%graph reset")
    k.stray.clear()
    main = Channel(k)  # requests on the main shell: answered between cells
    lab = Channel(k, subshell=subshell(k))  # as JupyterLab sends them: answered while cells run
    assert main.snapshot["seq"] == lab.snapshot["seq"]  # no change between the two openings
    asked: dict[str, list[str]] = {main.comm_id: [], lab.comm_id: []}
    cells = []
    for i in range(4):
        asked[main.comm_id] += [main.send({"type": "runs"}), main.send({"type": "refresh"})]
        asked[lab.comm_id] += [
            lab.send({"type": "trace", "run_id": "no-such-run"}),
            lab.send({"type": "runs"}),
        ]
        cells.append(k.send(f"w{i} = {i}" if i == 0 else f"w{i} = w{i - 1} + 1", cell_id()))
    main.raw([1])  # a malformed request: an error without reply_to, to `main` only

    def done(log: list[dict[str, Any]]) -> bool:
        idle = {
            m["parent_header"].get("msg_id")
            for m in log
            if m["header"]["msg_type"] == "status" and m["content"]["execution_state"] == "idle"
        }
        answered = all(set(ids) <= {d.get("reply_to") for d in _on(log, comm)} for comm, ids in asked.items())
        return (
            answered
            and set(cells) <= idle
            and any("reply_to" not in d and d["type"] == "error" for d in _on(log, main.comm_id))
        )

    log = _log_until(k, done)
    feeds = {}
    for ch in (main, lab):
        last, seen = ch.snapshot["seq"], []
        for d in _on(log, ch.comm_id):  # what the frontend's client checks, in arrival order
            if d["type"] == "changes":
                assert d["seq"] == last + 1, f"a seq gap on {ch.comm_id}: {last} -> {d['seq']}"
                last = d["seq"]
                seen.append(last)
            elif d["type"] == "snapshot":
                assert d["seq"] == last  # an answered refresh: the last change it holds
            else:
                assert "seq" not in d, d
        answers = [d for d in _on(log, ch.comm_id) if d["type"] != "changes"]
        assert {d["reply_to"] for d in answers if "reply_to" in d} == set(asked[ch.comm_id])
        feeds[ch.comm_id] = seen
    assert feeds[main.comm_id] == feeds[lab.comm_id] and len(feeds[main.comm_id]) >= 4
    assert not [d for d in _on(log, lab.comm_id) if d["type"] == "error" and "reply_to" not in d]
    errors = [d for d in _on(log, lab.comm_id) if d["type"] == "error"]
    assert len(errors) == 4 and all("unknown run" in d["error"] for d in errors)
