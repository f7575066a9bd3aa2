"""What a run and each node invocation can see: ids, the log, the namespace, services, the token."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

from ..eventlog.base import EventLog
from ..events import Event
from ..graph.spec import Graph, Node

if TYPE_CHECKING:
    from .runtime import Runtime

_rng = random.Random()
_mint_lock = threading.RLock()  # a child's mint may mint its parent's token first


def span_ids(span: trace.Span) -> tuple[str, str]:
    """Hex trace and span ids of ``span``; random ones when no tracing SDK is configured."""
    sc = span.get_span_context()
    if sc.is_valid:
        return format(sc.trace_id, "032x"), format(sc.span_id, "016x")
    return "", format(_rng.getrandbits(64), "016x")


_lazy_lock = threading.Lock()


class CancelEvent(threading.Event):
    """A :class:`threading.Event` whose condition is made when first needed (``set``, ``clear``,
    ``wait``): every run has a cancel event, almost none is ever set or waited on, and building
    ``Condition(Lock())`` cost more than the rest of the event (a served request makes one)."""

    def __init__(self) -> None:  # no Condition yet (see _cond)
        self._flag = False

    @property  # type: ignore[override]
    def _cond(self) -> threading.Condition:
        made: threading.Condition | None = self.__dict__.get("_made")
        if made is None:
            with _lazy_lock:  # one condition per event, whichever thread needs it first
                made = self.__dict__.get("_made")
                if made is None:
                    made = self.__dict__["_made"] = threading.Condition(threading.Lock())
        return made


@dataclass(slots=True, eq=False)
class RunContext:
    """One run of a graph; shared by all its nodes."""

    runtime: Runtime
    run_id: str
    session_id: str
    graph: Graph
    input: Any
    log: EventLog
    tracer: trace.Tracer
    namespace: dict[str, Any]
    services: Mapping[str, Any]
    span: trace.Span = field(default_factory=lambda: trace.INVALID_SPAN)
    trace_id: str = ""
    span_id: str = ""
    #: What the "fetch context" step found (memory hits, session notes), by hook name.
    context: dict[str, Any] = field(default_factory=dict)
    #: Free-form state hooks keep for the length of the run (tokens, sandboxes, ...).
    state: dict[str, Any] = field(default_factory=dict)
    #: The run and node that started this run (an agent run from a notebook cell), if any.
    parent_run_id: str = ""
    parent_node_id: str = ""
    #: Set to cancel the run (a served client went away): streaming nodes stop, the run is cancelled.
    cancel: threading.Event = field(default_factory=CancelEvent)

    def emit(self, event: Event, *, node_id: str = "", span_id: str = "") -> Event:
        """Append a run-level event (or one for ``node_id``); node bodies use :meth:`NodeContext.emit`."""
        event.run_id = self.run_id
        event.session_id = self.session_id
        event.trace_id = self.trace_id
        event.span_id = span_id or self.span_id
        if node_id:
            event.node_id = node_id
        return self.log.append(event)


@dataclass(slots=True, eq=False)
class NodeContext:
    """Handed to node bodies (a python callable gets it by declaring a ``ctx`` parameter)."""

    run: RunContext
    node: Node
    node_id: str
    attempt: int = 1
    span: trace.Span = field(default_factory=lambda: trace.INVALID_SPAN)
    span_id: str = ""
    #: The node's scoped identity token (see :attr:`token`).
    _token: str | None = field(default=None, repr=False)
    #: Mints the token on first use (set by the identity hook): nodes that cross no boundary
    #: (a plain python node) cost no signature.
    minter: Callable[[NodeContext], str] | None = field(default=None, repr=False)
    #: (span, trace id, span id) as :meth:`emit` last formatted them.
    _ids: tuple[trace.Span, str, str] | None = field(default=None, repr=False)

    @property
    def token(self) -> str | None:
        """The node's scoped identity token when identity is installed, minted on first use."""
        if self._token is None and self.minter is not None:
            with _mint_lock:
                if self._token is None and self.minter is not None:
                    self._token = self.minter(self)
        return self._token

    @token.setter
    def token(self, value: str | None) -> None:
        self._token, self.minter = value, None

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def session_id(self) -> str:
        return self.run.session_id

    @property
    def namespace(self) -> dict[str, Any]:
        return self.run.namespace

    @property
    def services(self) -> Mapping[str, Any]:
        return self.run.services

    @property
    def input(self) -> Any:
        return self.run.input

    @property
    def tracer(self) -> trace.Tracer:
        return self.run.tracer

    @property
    def request(self) -> dict[str, Any]:
        """The HTTP request that started a served run: ``request_id``, ``session_id``, ``headers``
        (the ``X-Amzn-Bedrock-AgentCore-Runtime-Custom-*`` ones); empty outside ``agentcore serve``."""
        found = self.run.context.get("request")
        return found if isinstance(found, dict) else {}

    def background(self, fn: Any, *args: Any) -> threading.Thread:
        """Start ``fn(*args)`` in the background and return at once; ``GET /ping`` reports
        ``HealthyBusy`` until it finishes."""
        from .stream import background_tasks

        return background_tasks.start(fn, *args, name=f"agentcore-bg-{self.node.name}")

    def emit(self, event: Event) -> Event:
        """Append an event attributed to this node and its span: what :func:`.emitting.emit` with
        ``span=self.span`` fills in, the hex ids formatted once per span (the scheduler emits two
        or more events per node)."""
        span, run = self.span, self.run
        ids = self._ids
        if ids is None or ids[0] is not span:
            sc = span.get_span_context()
            if sc.is_valid:
                ids = (span, format(sc.trace_id, "032x"), format(sc.span_id, "016x"))
            else:  # no tracing SDK: the run's trace id, the node's random span id
                ids = (span, run.trace_id, self.span_id or run.span_id)
            self._ids = ids
        event.run_id = run.run_id
        event.session_id = run.session_id
        event.node_id = self.node_id
        event.trace_id = ids[1]
        event.span_id = ids[2]
        return run.log.append(event)

    def run_nodes(self, nodes: Iterable[Node], *, input: Any = None) -> dict[str, Any]:
        """Run child nodes inside this node (a dynamic sub-graph) and return their outputs.

        Children get ids ``"<this node>/<child>"``, their own spans under this node's span, their
        own policies, and events in the same run. Independent children run concurrently.
        """
        return self.run.runtime._run_children(self, list(nodes), input)

    def run_node(self, node: Node, *, input: Any = None) -> Any:
        """Run one child node (see :meth:`run_nodes`) and return its output."""
        return self.run_nodes([node], input=input)[node.name]
