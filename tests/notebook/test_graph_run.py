"""``%graph run`` on the real kernel: cells through the engine runtime, concurrently, with policies,
traced, with events in the project's DuckDB log."""

from __future__ import annotations

import re
import time

from .conftest import Kernel


def run_id_of(stdout: str) -> str:
    found = re.match(r"run ([0-9a-f]{32}): ", stdout)
    assert found, stdout
    return found.group(1)


def events(k: Kernel, run_id: str) -> list[dict]:
    return k.value(
        "[{'type': e.type, 'node': e.node_id, 'ts': e.ts, **({'attempt': e.attempt} if hasattr(e, 'attempt') else {}),"
        " **({'fallback': e.fallback} if hasattr(e, 'fallback') else {}),"
        " **({'status': e.status} if e.type == 'RunExecuted' else {})}"
        f" for e in get_ipython()._agentcore_session.project.event_log.events({run_id!r})]"
    )


def states(k: Kernel) -> dict[str, str]:
    return {n["name"]: n["state"] for n in k.snapshot()["nodes"]}


def test_independent_cells_run_concurrently_and_are_logged(fresh: Kernel):
    k = fresh
    k.ok("import time\nnap = 1.0", "r1")
    k.ok("%%node left\nleft_start = time.time()\ntime.sleep(nap)\nleft_end = time.time()", "r2")
    k.ok("%%node right\nright_start = time.time()\ntime.sleep(nap)\nright_end = time.time()", "r3")
    k.ok("%%node both\nspan = max(left_end, right_end) - min(left_start, right_start)\nround(span, 1)", "r4")
    assert k.snapshot()["edges"] == [
        ["cell_1", "left"],
        ["cell_1", "right"],
        ["left", "both"],
        ["right", "both"],
    ]

    out = k.ok("%graph run").stdout
    run_id = run_id_of(out)
    assert out.startswith(f"run {run_id}: succeeded, 4 node(s)")
    left = k.value("(left_start, left_end)")
    right = k.value("(right_start, right_end)")
    # The two sleeps overlap (run one after the other, one ends before the other starts). No
    # wall-time bound: on a busy machine a thread can start late, never early.
    assert left[0] < right[1] and right[0] < left[1], (left, right)
    assert re.search(r"^  both +ok +\d+\.\d\d s  -> \d+\.\d$", out, re.M), out

    log = events(k, run_id)
    types = [e["type"] for e in log]
    assert types[0] == "RunProvisioned" and types[-1] == "RunVanished"
    assert {e["node"] for e in log if e["type"] == "NodeSucceeded"} == {"cell_1", "left", "right", "both"}
    started = {e["node"]: e["ts"] for e in log if e["type"] == "NodeStarted"}
    done = {e["node"]: e["ts"] for e in log if e["type"] == "NodeSucceeded"}
    assert started["left"] < done["right"] and started["right"] < done["left"]
    assert next(e for e in log if e["type"] == "RunExecuted")["status"] == "succeeded"
    assert set(states(k).values()) == {"fresh"}

    # --from: the node and what depends on it; --only: just those, dependents go stale
    out = k.ok("%graph run --from left").stdout
    ran = {e["node"] for e in events(k, run_id_of(out)) if e["type"] == "NodeStarted"}
    assert ran == {"left", "both"}
    out = k.ok("%graph run --only right").stdout
    ran = {e["node"] for e in events(k, run_id_of(out)) if e["type"] == "NodeStarted"}
    assert ran == {"right"}
    assert states(k) == {"cell_1": "fresh", "left": "fresh", "right": "fresh", "both": "stale"}


def test_policies_retries_timeout_fallback_and_failure(fresh: Kernel):
    k = fresh
    k.ok("import time\nattempts = {'n': 0}\ndelay = 0.0", "p1")
    first = k.run(
        "%%node flaky --retries 2\nattempts['n'] += 1\nif attempts['n'] < 3:\n"
        "    raise RuntimeError(f\"attempt {attempts['n']}\")\nflaky_result = attempts['n']",
        "p2",
    )
    assert first.status == "ok" and k.value("flaky_result") == 3  # run by hand, the policy applies too
    assert first.stderr.count("retrying in") == 2 and first.errors == []
    k.ok("attempts['n'] = 0", "p2b")
    out = k.ok("%graph run --only flaky").stdout
    log = events(k, run_id_of(out))
    assert [e["attempt"] for e in log if e["type"] == "NodeFailed"] == [1, 2]
    assert [e["type"] for e in log].count("NodeRetried") == 2
    assert k.value("flaky_result") == 3 and states(k)["flaky"] == "fresh"

    k.ok(
        "%%node slow --timeout 0.3 --fallback quick\ntime.sleep(delay)\n"
        "if delay > 1:\n    raise TimeoutError('too late')\nanswer = 'slow'",
        "p3",
    )
    k.ok("%%node quick\nanswer = 'quick'", "p4")
    k.ok("delay = 2.0", "p5")
    out = k.ok("%graph run --only slow").stdout
    log = events(k, run_id_of(out))
    assert next(e for e in log if e["type"] == "NodeRerouted")["fallback"] == "quick"
    assert k.value("answer") == "quick" and states(k)["slow"] == "fresh"

    k.run("%%node boom\nraise ValueError('nope')", "p6")
    failed = k.run("%graph run --only boom")
    assert failed.status == "error"
    assert failed.errors[0]["traceback"] == ["NodeError: node 'boom' failed: ValueError: nope"]
    assert "  boom  failed" in failed.stdout
    assert states(k)["boom"] == "failed"


def test_interrupt_during_graph_run(fresh: Kernel):
    k = fresh
    k.ok("import time\nnap = 0", "i1")
    k.ok("%%node napper\ntime.sleep(nap)\nwoke = True", "i2")
    k.ok("nap = 30", "i3")
    comm_id = k.comm_open("agentcore.graph")  # states arrive here even while the kernel is busy
    k.comm_messages(comm_id, 1)  # the snapshot
    msg_id = k.send("%graph run --only napper")
    deadline = time.monotonic() + 60
    running = False
    while not running and time.monotonic() < deadline:
        for m in k.comm_messages(comm_id, 1):
            for change in m["content"]["data"].get("changes", []):
                running |= change == {"op": "state", "name": "napper", "state": "running"}
    k.km.interrupt_kernel()
    result = k.collect(msg_id, timeout=60)
    k.stray.clear()
    assert result.status == "error" and result.reply["content"]["ename"] == "KeyboardInterrupt"
    assert states(k)["napper"] == "failed"
    assert k.ok("1 + 1").data[-1]["text/plain"] == "2"
    statuses = k.value(
        "[e.status for e in get_ipython()._agentcore_session.project.event_log.events(types=['RunExecuted'])]"
    )
    assert statuses[-1] == "cancelled"


def test_graph_run_nodes_are_spans_named_after_the_genai_conventions(fresh: Kernel):
    k = fresh
    k.ok(
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
        "from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter\n"
        "spans = InMemorySpanExporter()\n"
        "provider = TracerProvider()\n"
        "provider.add_span_processor(SimpleSpanProcessor(spans))\n"
        "trace.set_tracer_provider(provider)",
        "t1",
    )
    k.ok("%%node step\nvalue = 41 + 1", "t2")
    k.ok("spans.clear()")
    out = k.ok("%graph run --only step").stdout
    run_id = run_id_of(out)
    got = k.value(
        "[(s.name, dict(s.attributes), s.context.span_id, s.parent.span_id if s.parent else None)"
        " for s in spans.get_finished_spans()]"
    )
    by_name = {name: attrs for name, attrs, _, _ in got if attrs.get("agentcore.run.id") == run_id}
    assert set(by_name) == {"invoke_workflow notebook", "execute_node step"}
    # the graph run is a child of the cell that started it: its span hangs under the cell's span
    ids = {name: (sid, parent) for name, _, sid, parent in got}
    cell = next(name for name, _, _, _ in got if name.startswith("execute_node control-"))
    assert ids["invoke_workflow notebook"][1] == ids[cell][0]
    node = by_name["execute_node step"]
    assert node["gen_ai.operation.name"] == "execute_node"
    assert node["agentcore.node.name"] == "step" and node["agentcore.node.kind"] == "python"
    assert node["agentcore.run.id"] == run_id
    assert node["gen_ai.conversation.id"] == k.value("get_ipython()._agentcore_session.session_id")
