"""The one seam for writing events: ids are filled here, from the node being run, never left blank.

The runtime marks the node whose body is running in a context variable (:func:`node_scope`), on
whatever thread runs it (a worker, the event loop, or the caller's own thread for a notebook cell).
A component that records something (a tool call, a memory update, a sandboxed run, a refusal)
calls :func:`emit`; the event gets the run, node, session, trace and span ids of that node (the
span is the current OpenTelemetry span when it belongs to the node's trace, e.g. the tool's own
span). Outside any run (a CLI command, a library call from a script) events go to the process's
*ad-hoc run* for that log (kind ``adhoc``): a run like any other, so no event has an empty run id.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

from ..events import Event, RunExecuted, RunProvisioned, RunVanished

if TYPE_CHECKING:
    from ..eventlog.base import EventLog
    from .context import NodeContext

_CURRENT: ContextVar[NodeContext | None] = ContextVar("agentcore_current_node", default=None)


def current_node() -> NodeContext | None:
    """The node whose body is running in this context (thread, task), if any."""
    return _CURRENT.get()


def enter_node(ctx: NodeContext) -> Token[NodeContext | None]:
    return _CURRENT.set(ctx)


def leave_node(token: Token[NodeContext | None]) -> None:
    _CURRENT.reset(token)


@contextmanager
def node_scope(ctx: NodeContext) -> Iterator[NodeContext]:
    token = _CURRENT.set(ctx)
    try:
        yield ctx
    finally:
        _CURRENT.reset(token)


def _span_id_in(trace_id: str, span: trace.Span | None) -> str:
    """The span's id when it belongs to ``trace_id`` (a component's child span), else ""."""
    span = span if span is not None else trace.get_current_span()
    sc = span.get_span_context()
    if sc.is_valid and format(sc.trace_id, "032x") == trace_id:
        return format(sc.span_id, "016x")
    return ""


def emit(
    event: Event,
    *,
    log: EventLog | None = None,
    ctx: NodeContext | None = None,
    span: trace.Span | None = None,
) -> Event:
    """Append ``event`` with its ids filled in; returns it (with its ``seq``).

    ``ctx`` defaults to the current node; ``log`` to that node's run log (give it when the event
    must land in a component's own log, e.g. memory's); ``span`` to the current span.
    """
    ctx = ctx if ctx is not None else _CURRENT.get()
    if ctx is not None:
        run = ctx.run
        event.run_id = run.run_id
        event.session_id = run.session_id
        event.node_id = ctx.node_id
        # the node's trace: the run's, or the node's own when tracing began after the run did
        sc = ctx.span.get_span_context()
        trace_id = format(sc.trace_id, "032x") if sc.is_valid else run.trace_id
        event.trace_id = trace_id
        event.span_id = _span_id_in(trace_id, span) or ctx.span_id or run.span_id
        return (log if log is not None else run.log).append(event)
    if log is None:
        raise ValueError("emit: no node is running here, so a log must be given")
    return _adhoc(log).emit(event, span)


# ---------------------------------------------------------------------------- ad-hoc runs


class AdhocRun:
    """Events written outside any run, gathered in one run per log and process."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.run_id = uuid.uuid4().hex
        self.closed = False
        started = RunProvisioned(graph_name="adhoc", kind="adhoc")
        self._fill(started, None)
        log.append(started)
        log.on_close(self.close)

    def _fill(self, event: Event, span: trace.Span | None) -> None:
        event.run_id = self.run_id
        if not event.session_id:
            event.session_id = self.run_id
        current = span if span is not None else trace.get_current_span()
        sc = current.get_span_context()
        if sc.is_valid:
            event.trace_id, event.span_id = format(sc.trace_id, "032x"), format(sc.span_id, "016x")
        else:
            event.trace_id = self.run_id

    def emit(self, event: Event, span: trace.Span | None = None) -> Event:
        self._fill(event, span)
        return self.log.append(event)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with _adhoc_lock:
            if _adhoc_runs.get(self.log) is self:
                del _adhoc_runs[self.log]
        for event in (RunExecuted(status="succeeded"), RunVanished()):
            self._fill(event, trace.INVALID_SPAN)
            event.session_id = self.run_id
            try:
                self.log.append(event)
            except Exception:
                return  # the log is already closed: the run stays open, as after a crash


_adhoc_runs: weakref.WeakKeyDictionary[Any, AdhocRun] = weakref.WeakKeyDictionary()
_adhoc_lock = threading.Lock()


def _adhoc(log: EventLog) -> AdhocRun:
    with _adhoc_lock:
        run = _adhoc_runs.get(log)
        if run is None or run.closed:
            run = _adhoc_runs[log] = AdhocRun(log)
        return run


__all__ = ["AdhocRun", "current_node", "emit", "enter_node", "leave_node", "node_scope"]
