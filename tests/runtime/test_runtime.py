"""Runtime behaviour: dataflow, concurrency, retries/backoff, timeouts, fallbacks, skip, failures."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from agentcore_nb import Graph, InMemoryEventLog, Node, NodeContext, Policy, RunHook, Runtime
from agentcore_nb.errors import AgentcoreError, NodeError
from agentcore_nb.graph.policy import Backoff
from agentcore_nb.runtime import Body, register_executor

from ..helpers.overlap import Rendezvous, wait_until


@pytest.fixture
def rt() -> Runtime:
    runtime = Runtime(InMemoryEventLog(), seed=1)
    yield runtime
    runtime.close()


def types(rt: Runtime, run_id: str, node: str | None = None) -> list[str]:
    return [e.type for e in rt.log.events(run_id) if node is None or e.node_id == node]


def test_dataflow_with_input_keys_and_output_keys(rt: Runtime) -> None:
    g = Graph("flow", output="total")
    g.node(
        "order", lambda order_id: {"id": order_id, "items": [3, 4]}, inputs={"order_id": "$input.order_id"}
    )
    g.node("count", lambda items: len(items), inputs={"items": "order.items"})
    g.node("total", lambda items, n: sum(items) * n, inputs={"items": "order.items", "n": "count"})
    result = rt.run(g, {"order_id": "1234"})
    assert result.ok and result.output == 14
    assert result.outputs["order"] == {"id": "1234", "items": [3, 4]}
    lifecycle = [t for t in types(rt, result.run_id) if t.startswith("Run") or t == "ContextFetched"]
    assert lifecycle == ["RunProvisioned", "ContextFetched", "RunExecuted", "RunVanished"]
    for e in rt.log.events(result.run_id):
        assert e.run_id == result.run_id and e.session_id and e.trace_id and e.span_id and e.ts > 0


def test_missing_input_key_fails_the_node_clearly(rt: Runtime) -> None:
    g = Graph("keys")
    g.node("a", lambda x: x, inputs={"x": "$input.nope"})
    result = rt.run(g, {"other": 1})
    assert result.status == "failed"
    assert result.errors["a"] == "input 'x': the run input has no key 'nope'"


def test_default_output_is_every_sink(rt: Runtime) -> None:
    g = Graph("sinks")
    g.node("a", lambda: 1)
    g.node("b", lambda a: a + 1, inputs=["a"])
    g.node("c", lambda a: a + 2, inputs=["a"])
    assert rt.run(g).output == {"b": 2, "c": 3}


def test_independent_branches_overlap_in_time(rt: Runtime) -> None:
    # Each body waits at a rendezvous for the other three: the run can only succeed if all four
    # were running at the same moment (run one after another, the first gives up at a deadline).
    meeting = Rendezvous(4)
    spans: dict[str, tuple[float, float]] = {}

    def slow(name: str) -> Any:
        def body() -> str:
            t0 = time.monotonic()
            meeting.meet()
            spans[name] = (t0, time.monotonic())
            return name

        return body

    g = Graph("par")
    for name in "abcd":
        g.node(name, slow(name))
    result = rt.run(g)
    assert result.ok, result.errors
    assert meeting.peak == 4
    latest_start = max(s for s, _ in spans.values())
    earliest_end = min(e for _, e in spans.values())
    assert latest_start < earliest_end  # all four were running at the same moment


def test_async_bodies_run_concurrently(rt: Runtime) -> None:
    meeting = Rendezvous(5)

    async def nap(x: int) -> int:
        await meeting.ameet()  # returns only once all five coroutines are in flight at once
        return x

    g = Graph("async", output="sum")
    for i in range(5):
        g.node(f"n{i}", nap, inputs={"x": "$input"})
    g.node("sum", lambda **kw: sum(kw.values()), inputs=[f"n{i}" for i in range(5)])
    result = rt.run(g, 2)
    assert result.output == 10, result.errors
    assert meeting.peak == 5


def test_retries_with_exponential_backoff(rt: Runtime) -> None:
    calls: list[float] = []

    def flaky() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise ConnectionError(f"attempt {len(calls)} failed")
        return "ok"

    g = Graph("retry")
    g.node("f", flaky, policy=Policy(retries=3, backoff=Backoff(initial=0.1, multiplier=2, jitter=0)))
    result = rt.run(g)
    assert result.ok and result.outputs["f"] == "ok"
    assert types(rt, result.run_id, "f") == [
        "NodeStarted",
        "NodeFailed",
        "NodeRetried",
        "NodeStarted",
        "NodeFailed",
        "NodeRetried",
        "NodeStarted",
        "NodeSucceeded",
    ]
    events = rt.log.events(result.run_id)
    retried = [e for e in events if e.type == "NodeRetried"]
    assert [e.attempt for e in retried] == [2, 3] and [e.delay_s for e in retried] == [0.1, 0.2]
    failed = [e for e in events if e.type == "NodeFailed"]
    assert all(not e.final for e in failed) and failed[0].error == "ConnectionError: attempt 1 failed"
    assert calls[1] - calls[0] >= 0.1 and calls[2] - calls[1] >= 0.2


def test_retries_exhausted_fail_the_run_but_not_independent_branches(rt: Runtime) -> None:
    def boom() -> None:
        raise ValueError("bad data")

    g = Graph("fail")
    g.node("bad", boom, retries=1, policy=Policy(backoff=Backoff(initial=0.01)))
    g.node("after_bad", lambda bad: bad, inputs=["bad"])
    g.node("after_after", lambda after_bad: 1, inputs=["after_bad"])
    g.node("independent", lambda: "fine")
    result = rt.run(g)
    assert result.status == "failed"
    assert result.errors == {"bad": "ValueError: bad data"}
    assert result.outputs["independent"] == "fine"
    assert sorted(result.skipped) == ["after_after", "after_bad"]
    skipped = [e for e in rt.log.events(result.run_id) if e.type == "NodeSkipped"]
    assert {e.node_id: e.reason for e in skipped}["after_bad"] == "upstream node 'bad' failed"
    with pytest.raises(NodeError, match="node 'bad' failed: ValueError: bad data"):
        result.raise_for_status()


def test_on_error_skip_lets_dependents_run_with_none(rt: Runtime) -> None:
    g = Graph("skip", output="use")
    g.node("optional", lambda: 1 / 0, on_error="skip")
    g.node("use", lambda optional: "default" if optional is None else optional, inputs=["optional"])
    result = rt.run(g)
    assert result.ok and result.output == "default"
    assert types(rt, result.run_id, "optional") == ["NodeStarted", "NodeFailed", "NodeSkipped"]


def test_fallback_reroutes_and_its_output_flows_on(rt: Runtime) -> None:
    g = Graph("fb", output="answer")
    g.node("question", lambda: "where is 1234?")
    g.node("primary", lambda question: 1 / 0, inputs=["question"], fallback="backup")
    g.node("backup", lambda question: f"sorry, cannot answer {question!r} now", inputs=["question"])
    g.node("answer", lambda primary: primary.upper(), inputs=["primary"])
    result = rt.run(g)
    assert result.ok
    assert result.output == "SORRY, CANNOT ANSWER 'WHERE IS 1234?' NOW"
    evs = rt.log.events(result.run_id)
    rerouted = [e for e in evs if e.type == "NodeRerouted"]
    assert len(rerouted) == 1 and rerouted[0].node_id == "primary" and rerouted[0].fallback == "backup"
    assert "ZeroDivisionError" in rerouted[0].error
    via = [e for e in evs if e.type == "NodeSucceeded" and e.node_id == "primary"]
    assert via[0].via == "backup"


def test_fallback_chain_and_failing_fallback(rt: Runtime) -> None:
    g = Graph("chain", output="a")
    g.node("a", lambda: 1 / 0, fallback="b")
    g.node("b", lambda: 1 / 0, fallback="c")
    g.node("c", lambda: "third time lucky")
    assert rt.run(g).output == "third time lucky"

    g2 = Graph("chain2")
    g2.node("a", lambda: 1 / 0, fallback="b")
    g2.node("b", lambda: 1 / 0)
    g2.node("after", lambda a: a, inputs=["a"])
    result = rt.run(g2)
    assert result.status == "failed" and "fallback 'b' failed" in result.errors["a"]
    assert result.skipped == ["after"]


def test_sync_timeout_is_enforced_and_retried(rt: Runtime) -> None:
    attempts: list[int] = []
    finished: list[int] = []
    release = threading.Event()

    def hang() -> None:
        attempts.append(1)
        release.wait(60)  # hangs until the test lets it go, long after the run gave up
        finished.append(1)

    g = Graph("timeout")
    g.node("h", hang, timeout=0.2, retries=1, policy=Policy(backoff=Backoff(initial=0.01)))
    g.node("other", lambda: "done")
    try:
        result = rt.run(g)
        # The run ended on the timeouts, not on the bodies: both attempts are still hanging.
        assert finished == []
        assert result.status == "failed" and result.errors["h"] == "TimeoutError: timed out after 0.2s"
        assert result.outputs["other"] == "done"
        assert types(rt, result.run_id, "h").count("NodeStarted") == 2
        # On a busy machine a timed-out attempt's thread may not have begun its body yet.
        wait_until(lambda: len(attempts) == 2, "both attempts ran their body")
        assert finished == []
    finally:
        release.set()


def test_async_timeout_cancels_the_coroutine(rt: Runtime) -> None:
    cancelled = threading.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    g = Graph("atimeout")
    g.node("s", slow, timeout=0.2)
    result = rt.run(g)
    assert result.errors["s"] == "TimeoutError: timed out after 0.2s"
    assert cancelled.wait(60)  # a deadline, not a bound: returns as soon as the coroutine saw it


def test_unserializable_output_is_a_clear_non_retried_failure(rt: Runtime) -> None:
    calls = []

    def make_lock() -> Any:
        calls.append(1)
        return threading.Lock()

    g = Graph("ser")
    g.node("lock", make_lock, retries=3)
    result = rt.run(g)
    assert len(calls) == 1
    assert result.errors["lock"].startswith("output of node 'lock' of type lock cannot be serialized")


def test_code_nodes_share_the_run_namespace_and_return_the_last_expression(rt: Runtime) -> None:
    g = Graph("cells", output="c")
    g.node("a", code="import math\nx = 4")
    g.node("b", code="y = math.sqrt(x)\ny * 10", inputs=[], after=["a"])
    g.node("c", code="f'{x}:{y}'", after=["b"])
    ns: dict[str, Any] = {}
    result = rt.run(g, namespace=ns)
    assert result.output == "4:2.0" and result.outputs["b"] == 20.0 and ns["y"] == 2.0
    succeeded = {e.node_id: e for e in rt.log.events(result.run_id) if e.type == "NodeSucceeded"}
    assert succeeded["a"].namespace["x"] == 4 and "$pickle" in succeeded["a"].namespace["math"]


def test_only_and_given_restrict_a_run(rt: Runtime) -> None:
    ran = []
    g = Graph("only", output="c")
    g.node("a", lambda: ran.append("a") or 1)
    g.node("b", lambda a: ran.append("b") or a + 1, inputs=["a"])
    g.node("c", lambda b: ran.append("c") or b * 10, inputs=["b"])
    result = rt.run(g, only=["b", "c"], given={"a": 5})
    assert ran == ["b", "c"] and result.output == 60
    with pytest.raises(AgentcoreError, match="has no node"):
        rt.run(g, only=["zzz"])


def test_nested_children_run_inside_a_node(rt: Runtime) -> None:
    meeting = Rendezvous(3)  # the three children must run at the same time to get past it

    def parent(ctx: NodeContext) -> dict[str, Any]:
        children = [
            Node(f"tool{i}", config={"callable": (lambda i=i: (meeting.meet(), i)[1])}) for i in range(3)
        ]
        return {"outs": ctx.run_nodes(children)}

    g = Graph("nested", output="agent")
    g.node("agent", parent)
    result = rt.run(g)
    assert result.output["outs"] == {"tool0": 0, "tool1": 1, "tool2": 2}, result.errors
    assert meeting.peak == 3
    ids = {e.node_id for e in rt.log.events(result.run_id) if e.type == "NodeSucceeded"}
    assert ids == {"agent", "agent/tool0", "agent/tool1", "agent/tool2"}


def test_failing_child_raises_node_error_in_parent(rt: Runtime) -> None:
    def parent(ctx: NodeContext) -> Any:
        return ctx.run_node(Node("bad", config={"callable": lambda: 1 / 0}))

    g = Graph("nested-fail")
    g.node("p", parent)
    result = rt.run(g)
    assert "node 'p/bad' failed: ZeroDivisionError" in result.errors["p"]


def test_hooks_follow_the_lifecycle_and_can_refuse_a_node(rt: Runtime) -> None:
    calls: list[str] = []

    class Recorder(RunHook):
        name = "recorder"

        def provision(self, run: Any) -> None:
            calls.append("provision")

        def fetch_context(self, run: Any) -> dict[str, Any]:
            calls.append("fetch_context")
            return {"hits": 3}

        def node_started(self, ctx: NodeContext) -> None:
            calls.append(f"start:{ctx.node.name}")
            if ctx.node.name == "forbidden":
                raise PermissionError("not permitted: tool:forbidden")
            ctx.token = f"token-for-{ctx.node.name}"

        def node_finished(self, ctx: NodeContext, ok: bool, output: Any, error: Any) -> None:
            calls.append(f"end:{ctx.node.name}:{ok}")

        def executed(self, run: Any, status: str) -> None:
            calls.append(f"executed:{status}")

        def vanish(self, run: Any) -> None:
            calls.append("vanish")

    rt.add_hook(Recorder())
    g = Graph("hooks")
    g.node("a", lambda ctx: ctx.token)
    g.node("forbidden", lambda: "never", after=["a"])
    result = rt.run(g)
    assert result.outputs["a"] == "token-for-a"
    assert result.errors["forbidden"] == "PermissionError: not permitted: tool:forbidden"
    assert calls == [
        "provision",
        "fetch_context",
        "start:a",
        "end:a:True",
        "start:forbidden",
        "executed:failed",
        "vanish",
    ]
    ctx_event = next(e for e in rt.log.events(result.run_id) if e.type == "ContextFetched")
    assert ctx_event.context == {"recorder": "{'hits': 3}"}


def test_executor_registry_dispatches_by_kind(rt: Runtime) -> None:
    class Echo:
        kind = "echo"

        def prepare(self, node: Node) -> Body:
            return Body(lambda ctx, inputs: {"echo": node.config["text"], **inputs}, operation="execute_tool")

    register_executor(
        Echo(), validator=lambda node: [] if "text" in node.config else ["config.text is required"]
    )
    g = Graph("kinds")
    g.add_node(Node("e", kind="echo", config={"text": "hi"}, inputs={"x": "$input"}))
    assert rt.run(g, 1).outputs["e"] == {"echo": "hi", "x": 1}
    bad = Graph("kinds2")
    bad.add_node(Node("e", kind="echo"))
    with pytest.raises(AgentcoreError, match="node 'e': config.text is required"):
        rt.run(bad)


def test_kind_without_executor_fails_only_that_node(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from agentcore_nb.runtime import executors

    monkeypatch.setitem(executors.PROVIDERS, "agent", "agentcore_nb._no_such_module")
    monkeypatch.delitem(executors._registry, "agent", raising=False)
    g = Graph("noexec")
    g.add_node(Node("sub", kind="agent", config={}))
    g.node("ok", lambda: 1)
    result = rt.run(g)
    assert result.errors["sub"].startswith("no executor is installed for node kind 'agent'")
    assert result.outputs["ok"] == 1


def test_invalid_graph_is_refused_before_anything_runs(rt: Runtime) -> None:
    g = Graph("cyc")
    g.node("a", code="1", after=["b"])
    g.node("b", code="1", after=["a"])
    with pytest.raises(AgentcoreError, match="cycle"):
        rt.run(g)
    assert rt.log.events() == []


def test_many_runs_from_many_threads(rt: Runtime) -> None:
    g = Graph("threads", output="b")
    g.node("a", lambda x: x + 1, inputs={"x": "$input"})
    g.node("b", lambda a: a * 2, inputs=["a"])
    results: dict[int, int] = {}

    def work(i: int) -> None:
        results[i] = rt.run(g, i).output

    threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: (i + 1) * 2 for i in range(20)}
    seqs = [e.seq for e in rt.log.events()]
    assert seqs == sorted(seqs) == list(range(len(seqs)))


def test_the_recorded_run_output_is_the_output_nodes_recorded_output(rt: Runtime) -> None:
    """RunExecuted stores the output node's value as its NodeSucceeded did (a pickled one too),
    and what a node downstream of the output node did to it is recorded as it ended."""
    from agentcore_nb.values import decode_value

    g = Graph("out", output="make")
    g.node("make", lambda: {"tags": {"b", "a"}})  # not JSON: pickled
    result = rt.run(g)
    events = rt.log.events(result.run_id)
    succeeded = next(e for e in events if e.type == "NodeSucceeded")
    executed = next(e for e in events if e.type == "RunExecuted")
    assert executed.output == succeeded.output  # type: ignore[attr-defined]
    assert decode_value(executed.output) == {"tags": {"a", "b"}}  # type: ignore[attr-defined]

    g = Graph("mutated", output="make")
    g.node("make", lambda: {"n": [1]})
    g.node("grow", lambda made: made["n"].append(2), inputs={"made": "make"})
    result = rt.run(g)
    executed = next(e for e in rt.log.events(result.run_id) if e.type == "RunExecuted")
    assert executed.output == {"n": [1, 2]} == result.output  # type: ignore[attr-defined]


def test_a_runs_cancel_event_is_a_full_threading_event() -> None:
    """The condition-less CancelEvent still waits, wakes and clears like threading.Event."""
    from agentcore_nb.runtime.context import CancelEvent

    event = CancelEvent()
    assert isinstance(event, threading.Event) and not event.is_set()
    assert not event.wait(0.01)
    waiting = threading.Thread(target=event.wait)
    waiting.start()
    event.set()
    waiting.join(30)
    assert not waiting.is_alive() and event.is_set() and event.wait()
    event.clear()
    assert not event.is_set()
