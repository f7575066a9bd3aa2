"""Typed, versioned events: the vocabulary every room speaks.

Every run writes events to an append-only log; memory, traces, checkpoints and replay are views of
that log. Each event carries the run, session and node it belongs to, the trace and span that were
current when it was emitted, a wall-clock timestamp, and a sequence number assigned by the log.

The JSON codec round-trips: ``from_json(to_json(e)) == e``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, dataclass_transform

from .errors import EventLogError

#: Version of the event encoding. Bump when a field changes meaning; old versions stay readable.
EVENT_VERSION = 1

EVENT_TYPES: dict[str, type[Event]] = {}
_E = TypeVar("_E", bound="Event")


@dataclass(slots=True, kw_only=True)
class Event:
    """Fields every event carries."""

    type: ClassVar[str] = "Event"

    run_id: str = ""
    session_id: str = ""
    node_id: str = ""
    trace_id: str = ""
    span_id: str = ""
    ts: float = field(default_factory=time.time)
    seq: int = -1
    v: int = EVENT_VERSION

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type}
        for f in _fields(type(self)):
            data[f] = getattr(self, f)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), default=_json_default)


_FIELDS_CACHE: dict[type, tuple[str, ...]] = {}


@dataclass_transform(kw_only_default=True, field_specifiers=(field,))
def event_type(cls: type[_E]) -> type[_E]:
    """Class decorator for event classes: makes a slotted dataclass and registers it by name.

    Components (memory, gateway, ...) may define their own event types with it.
    """
    if "type" not in cls.__dict__:
        cls.type = cls.__name__
    made = dataclass(slots=True, kw_only=True)(cls)
    EVENT_TYPES[made.type] = made
    return made


def _fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS_CACHE.get(cls)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(cls))
        _FIELDS_CACHE[cls] = names
    return names


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return repr(value)


# ---------------------------------------------------------------- run lifecycle (the seed's steps)


@event_type
class RunProvisioned(Event):
    """A run got its sandbox: the graph spec and input are recorded so the run can be resumed."""

    graph_name: str = ""
    graph: dict[str, Any] = field(default_factory=dict)
    input: Any = None
    parent_run_id: str = ""
    #: ``graph`` (a graph run), ``notebook`` (one per kernel session), ``adhoc`` (events outside runs).
    kind: str = "graph"
    #: The node of ``parent_run_id`` that started this run (an agent run from a notebook cell).
    parent_node_id: str = ""


@event_type
class ContextFetched(Event):
    """The run fetched its context (memory hits, session state) before executing."""

    context: dict[str, Any] = field(default_factory=dict)


@event_type
class RunResumed(Event):
    """A run was resumed from the log; ``committed`` nodes are not executed again."""

    committed: list[str] = field(default_factory=list)


@event_type
class RunExecuted(Event):
    """All nodes reached a final state."""

    status: str = "succeeded"  # succeeded | failed | cancelled
    output: Any = None
    error: str = ""
    failed_nodes: list[str] = field(default_factory=list)
    duration_ms: float = 0.0


@event_type
class RunVanished(Event):
    """The run's resources were released; only the log remains."""

    duration_ms: float = 0.0


# ---------------------------------------------------------------- node lifecycle


@event_type
class NodeStarted(Event):
    kind: str = "python"
    attempt: int = 1
    #: For a notebook cell: which cell, and a hash of the source that ran.
    cell_id: str = ""
    source_hash: str = ""


@event_type
class NodeSucceeded(Event):
    """A node finished; ``output`` (and ``namespace`` for code nodes) are stored for resume."""

    kind: str = "python"
    attempt: int = 1
    output: Any = None
    namespace: dict[str, Any] = field(default_factory=dict)
    duration_ms: float = 0.0
    via: str = ""  # set when a fallback node produced this output


@event_type
class NodeFailed(Event):
    """An attempt failed; ``final`` is true when no retry follows."""

    kind: str = "python"
    attempt: int = 1
    error_type: str = ""
    error: str = ""
    final: bool = True
    duration_ms: float = 0.0


@event_type
class NodeRetried(Event):
    attempt: int = 2
    delay_s: float = 0.0
    error: str = ""


@event_type
class NodeSkipped(Event):
    """Skipped by policy (``on_error=skip``), or blocked because ``upstream`` failed."""

    reason: str = ""
    upstream: str = ""


@event_type
class NodeRerouted(Event):
    """A node failed for good and its fallback runs in its place."""

    fallback: str = ""
    error: str = ""


# ---------------------------------------------------------------- the seed's agent events


@event_type
class AgentInvocationEvent(Event):
    agent: str = ""
    request: Any = None
    response: Any = None
    parent_agent: str = ""
    status: str = "started"  # started | succeeded | failed
    usage: dict[str, int] = field(default_factory=dict)


@event_type
class ActionEvent(Event):
    """A tool call, code execution or other side-effecting action."""

    action: str = ""
    input: Any = None
    output: Any = None
    status: str = "succeeded"  # succeeded | failed | denied
    error: str = ""
    duration_ms: float = 0.0
    attributes: dict[str, Any] = field(default_factory=dict)


@event_type
class MemoryUpdateEvent(Event):
    """A memory record was added, updated or forgotten (the memory store is a view of these)."""

    op: str = "add"  # add | update | forget
    namespace: str = ""
    record_id: str = ""
    record: dict[str, Any] = field(default_factory=dict)
    #: Several records added at once (one event per ``add_many``, namespace and session): ``count``,
    #: columns ``ids``, ``texts``, ``actors``, ``metadata`` (one entry per record), ``session``,
    #: ``created``, ``vector`` ([block, first position]); ``record_id`` and ``record`` stay empty.
    batch: dict[str, Any] = field(default_factory=dict)


@event_type
class AccessDenied(Event):
    """A boundary refused a scope (identity): what was asked, why, and by whom; never the token."""

    scope: str = ""
    reason: str = ""
    agent: str = ""
    jti: str = ""


# ---------------------------------------------------------------- codec


def from_dict(data: dict[str, Any]) -> Event:
    """Decode one event; raises :class:`EventLogError` for unknown types or newer versions."""
    try:
        type_name = data["type"]
    except (KeyError, TypeError):
        raise EventLogError("event has no 'type' field") from None
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        raise EventLogError(f"unknown event type '{type_name}'")
    version = data.get("v", EVENT_VERSION)
    if not isinstance(version, int) or version > EVENT_VERSION:
        raise EventLogError(
            f"event {type_name} has version {version}, newer than this agentcore-nb "
            f"understands ({EVENT_VERSION})",
            hint="upgrade agentcore-nb",
        )
    names = _fields(cls)
    kwargs = {k: data[k] for k in names if k in data}
    return cls(**kwargs)


def from_json(text: str | bytes) -> Event:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EventLogError(f"malformed event JSON: {exc.msg} at char {exc.pos}") from None
    return from_dict(data)


def event_types() -> dict[str, type[Event]]:
    """All registered event classes by type name (components may add their own)."""
    return dict(EVENT_TYPES)
