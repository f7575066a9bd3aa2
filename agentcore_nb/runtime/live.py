"""Open runs: a run that stays open while its caller runs nodes one at a time, on its own thread.

A notebook session is one such run (kind ``notebook``): each cell execution is a node execution
whose body the caller runs itself (IPython, on the kernel's main thread), attempt by attempt. The
run and node lifecycle is the same as in a graph run: ``RunProvisioned``, the hooks (identity
tokens, memory context), ``NodeStarted`` / ``NodeSucceeded`` / ``NodeFailed`` / ``NodeRetried`` /
``NodeRerouted`` per attempt, a span per node under the run's span, and the node marked current
(:mod:`.emitting`) while its body runs, so whatever it records carries its ids.

Commits are group commits in the background: a node never waits for the disk.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from ..errors import AgentcoreError
from ..events import (
    ContextFetched,
    Event,
    NodeFailed,
    NodeStarted,
    NodeSucceeded,
    RunExecuted,
    RunProvisioned,
    RunVanished,
)
from ..graph.spec import Graph, Node
from ..observability import conventions as conv
from ..values import summarize
from .context import NodeContext, RunContext, span_ids
from .emitting import enter_node, leave_node
from .executors import OPERATIONS
from .lifecycle import Outcome, attempt_failed, error_line

if TYPE_CHECKING:
    from ..eventlog.base import EventLog
    from .runtime import Runtime


class LiveRun:
    """An open run of ``runtime``; close it with :meth:`close` (or the log closes it as interrupted)."""

    def __init__(
        self,
        runtime: Runtime,
        name: str,
        *,
        kind: str = "notebook",
        session_id: str | None = None,
        run_id: str | None = None,
        namespace: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        node_hooks: bool = True,
    ) -> None:
        self.runtime = runtime
        self.kind = kind
        #: Whether the hooks see each node (identity mints a token per node): off for a notebook,
        #: whose cells act as its owner (their magics call components with the owner's identity,
        #: so a per-cell token would go unused).
        self.node_hooks = node_hooks
        graph = Graph(name, metadata=dict(metadata or {}))
        self.run: RunContext = runtime._new_run(graph, None, session_id, run_id, namespace)
        #: The context every node span starts in (built once, not per cell).
        self.span_context = trace.set_span_in_context(self.run.span)
        self.closed = False
        self._t0 = time.perf_counter()
        self.failed_nodes: list[str] = []
        self.inflight: list[LiveNode] = []
        run = self.run
        run.emit(
            RunProvisioned(
                graph_name=name,
                kind=kind,
                graph={"agentcore_graph": 1, "name": name, "nodes": [], "metadata": graph.metadata},
                parent_run_id=run.parent_run_id,
                parent_node_id=run.parent_node_id,
            )
        )
        for hook in runtime.hooks:
            hook.provision(run)
        for hook in runtime.hooks:
            found = hook.fetch_context(run)
            if found:
                run.context[hook.name] = found
        run.emit(ContextFetched(context={k: summarize(v) for k, v in run.context.items()}))

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def session_id(self) -> str:
        return self.run.session_id

    def node(self, node: Node, *, node_id: str | None = None, operation: str | None = None) -> LiveNode:
        """Start executing ``node`` (its span opens now); drive it with ``start`` / ``succeeded`` /
        ``failed``. ``operation`` names the span (default: the kind's GenAI operation)."""
        if self.closed:
            raise AgentcoreError(f"run {self.run_id} is closed")
        return LiveNode(self, node, node_id or node.name, operation)

    def close(self, status: str = "succeeded", error: str = "") -> None:
        """End the run: ``RunExecuted`` (``succeeded`` or ``cancelled``), the hooks, ``RunVanished``."""
        if self.closed:
            return
        for node in list(self.inflight):  # e.g. the cell that unloaded the extension
            node.abandon("the run ended while this node ran")
        self.closed = True
        run = self.run
        duration = (time.perf_counter() - self._t0) * 1000.0
        run.emit(RunExecuted(status=status, error=error, failed_nodes=[], duration_ms=duration))
        for hook in self.runtime.hooks:
            try:
                hook.executed(run, status)
            except Exception:
                pass
        for hook in reversed(self.runtime.hooks):
            try:
                hook.vanish(run)
            except Exception:
                pass
        run.emit(RunVanished(duration_ms=(time.perf_counter() - self._t0) * 1000.0))
        if status != "succeeded":
            run.span.set_status(Status(StatusCode.ERROR, error or status))
        run.span.end()


class LiveNode:
    """One execution of a node whose body the caller runs, attempt by attempt."""

    def __init__(self, live: LiveRun, node: Node, node_id: str, operation: str | None = None) -> None:
        self.live = live
        self.node = node
        run = live.run
        operation = operation or OPERATIONS.get(node.kind, conv.EXECUTE_NODE)
        attributes: dict[str, Any] = {
            **conv.node_attributes(node.name, node.kind, operation),
            conv.RUN_ID: run.run_id,
            conv.CONVERSATION: run.session_id,
        }
        for key, value in node.metadata.items():
            if key in ("cell_id", "source_hash") and value:
                attributes[conv.CELL_PREFIX + key.removeprefix("cell_")] = value
        span = run.tracer.start_span(
            conv.span_name(operation, node.name), context=live.span_context, attributes=attributes
        )
        self.span = span
        self.ctx = NodeContext(run, node, node_id, 0, span, span_ids(span)[1])
        self._t0 = 0.0
        self._entered: Any = None
        self.done = False
        live.inflight.append(self)

    def _settle(self) -> None:
        self.done = True
        if self in self.live.inflight:
            self.live.inflight.remove(self)

    @property
    def attempt(self) -> int:
        return self.ctx.attempt

    def start(self) -> None:
        """Begin the next attempt: ``NodeStarted``, the hooks, and the node made current here."""
        ctx = self.ctx
        ctx.attempt += 1
        meta = self.node.metadata
        self._emit(
            NodeStarted(
                kind=self.node.kind,
                attempt=ctx.attempt,
                cell_id=meta.get("cell_id") or "",
                source_hash=meta.get("source_hash") or "",
            )
        )
        if self.live.node_hooks:
            for hook in self.live.runtime.hooks:
                hook.node_started(ctx)
        self._entered = (enter_node(ctx), otel_context.attach(trace.set_span_in_context(self.span)))
        self._t0 = time.perf_counter()

    def _leave(self) -> float:
        duration = time.perf_counter() - self._t0
        if self._entered is not None:
            current, attached = self._entered
            self._entered = None
            otel_context.detach(attached)
            leave_node(current)
        return duration

    def _finished_hooks(self, ok: bool, output: Any, error: BaseException | None) -> None:
        if not self.live.node_hooks:
            return
        for hook in self.live.runtime.hooks:
            try:
                hook.node_finished(self.ctx, ok, output, error)
            except Exception:
                pass

    def _emit(self, event: Event) -> None:
        if not self.live.closed:  # after the run closed, nothing more belongs to it
            self.ctx.emit(event)

    def succeeded(
        self, output: Any = None, *, later: Callable[[Callable[[], None]], None] | None = None
    ) -> None:
        """The attempt worked; ``output`` is recorded as a one-line preview.

        ``later`` (a notebook kernel's runner) takes the recording to do it after the cell's reply:
        the node stops being current now, and the event and span keep this moment's times.
        """
        duration = self._leave()
        ts, end_ns = time.time(), time.time_ns()

        def record() -> None:
            self._finished_hooks(True, output, None)
            preview = None if output is None else summarize(output)
            event = NodeSucceeded(
                kind=self.node.kind, attempt=self.ctx.attempt, output=preview, duration_ms=duration * 1000.0
            )
            event.ts = ts
            self._emit(event)
            self.span.end(end_time=end_ns)
            self._settle()

        if later is None:
            record()
        else:
            later(record)

    def failed(self, error: BaseException, *, retryable: bool = True, reroute: bool = True) -> Outcome:
        """The attempt failed: record it and say what follows (the node's policy decides, as in a
        graph run: :func:`.lifecycle.attempt_failed`)."""
        duration = self._leave()
        self._finished_hooks(False, None, error)
        if self.live.closed:
            return Outcome("failed", error=error_line(error))
        outcome = attempt_failed(
            self.ctx, error, duration, self.live.runtime.rng, retryable=retryable, reroute=reroute
        )
        if outcome.action in ("failed", "skip"):
            self._settle()
            self.live.failed_nodes.append(self.ctx.node_id)
            return Outcome("failed", error=outcome.error)
        return outcome

    def succeeded_via(self, fallback: str, output: Any = None) -> None:
        """Its fallback produced the output (after :meth:`failed` said ``fallback``)."""
        preview = None if output is None else summarize(output)
        self._emit(NodeSucceeded(kind=self.node.kind, attempt=self.ctx.attempt, output=preview, via=fallback))
        self._settle()

    def fallback_failed(self) -> None:
        """Its fallback failed (or could not run): the node failed for good."""
        self._settle()
        self.live.failed_nodes.append(self.ctx.node_id)

    def abandon(self, reason: str) -> None:
        """Stopped from outside (interrupt) with no attempt running: fail it for good."""
        self._leave()
        if not self.done:
            self._emit(
                NodeFailed(
                    kind=self.node.kind,
                    attempt=self.ctx.attempt,
                    error_type="Cancelled",
                    error=reason,
                    final=True,
                )
            )
            self.span.set_status(Status(StatusCode.ERROR, reason))
            self.span.end()
            self._settle()


def close_interrupted(log: EventLog, kind: str = "notebook", reason: str = "") -> list[str]:
    """Close runs of ``kind`` that a dead process left open: each node still running gets a final
    ``NodeFailed`` (``Interrupted``), the run ``RunExecuted`` (``cancelled``). Returns their ids.

    Call it only while holding the project's database (one process writes it), so an open run in
    the log cannot belong to a live process.
    """
    reason = reason or "the process stopped while this ran (kernel killed or restarted)"
    closed = []
    for summary in log.runs():
        if summary.kind != kind or summary.status != "incomplete":
            continue
        events = log.events(summary.run_id)
        running: dict[str, Event] = {}
        for e in events:
            if e.type == "NodeStarted":
                running[e.node_id] = e
            elif e.type in ("NodeSucceeded", "NodeSkipped", "NodeRerouted") or (
                e.type == "NodeFailed" and getattr(e, "final", True)
            ):
                running.pop(e.node_id, None)
        last = events[-1] if events else None
        for node_id, started in running.items():
            log.append(
                NodeFailed(
                    run_id=summary.run_id,
                    session_id=started.session_id,
                    node_id=node_id,
                    trace_id=started.trace_id,
                    span_id=started.span_id,
                    kind=getattr(started, "kind", "python"),
                    attempt=getattr(started, "attempt", 1),
                    error_type="Interrupted",
                    error=reason,
                    final=True,
                )
            )
        trace_id = last.trace_id if last is not None else ""
        for event in (
            RunExecuted(status="cancelled", error=reason, failed_nodes=sorted(running)),
            RunVanished(),
        ):
            event.run_id, event.session_id, event.trace_id = summary.run_id, summary.session_id, trace_id
            log.append(event)
        closed.append(summary.run_id)
    return closed


__all__ = ["LiveNode", "LiveRun", "Outcome", "close_interrupted"]
