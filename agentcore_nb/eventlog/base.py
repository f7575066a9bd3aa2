"""The event log interface: append-only, ordered by a sequence number the log assigns."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import AgentcoreError
from ..events import Event

Listener = Callable[[Event], None]


@dataclass(slots=True)
class RunSummary:
    run_id: str
    graph_name: str = ""
    session_id: str = ""
    kind: str = "graph"
    status: str = "incomplete"  # incomplete (no RunExecuted yet) | succeeded | failed | cancelled
    started: float = 0.0
    ended: float | None = None
    events: int = 0
    nodes_succeeded: int = 0
    nodes_failed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "graph": self.graph_name,
            "kind": self.kind,
            "session_id": self.session_id,
            "status": self.status,
            "started": self.started,
            "ended": self.ended,
            "events": self.events,
            "nodes_succeeded": self.nodes_succeeded,
            "nodes_failed": self.nodes_failed,
        }


class EventLog(ABC):
    """Where events go. ``append`` is cheap; ``flush`` returns once everything appended is durable."""

    durable = False

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._seq_lock = threading.Lock()
        self._next_seq = 0
        self._close_hooks: list[Callable[[], None]] = []

    def on_close(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` when the log is closed for good, before its last flush (open runs end)."""
        self._close_hooks.append(fn)

    def _run_close_hooks(self) -> None:
        hooks, self._close_hooks = self._close_hooks, []
        for fn in hooks:
            try:
                fn()
            except Exception:
                pass

    def append(self, event: Event) -> Event:
        """Record ``event`` (assigning its ``seq``) and tell listeners."""
        with self._seq_lock:  # one lock: events are stored in the order of their seq
            event.seq = self._next_seq
            self._next_seq += 1
            self._store(event)
        self._tell(event)
        return event

    def _tell(self, event: Event) -> None:
        """Listeners hear an appended event; one that fails does not stop the others."""
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                pass

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every appended event; returns an unsubscribe function."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    @abstractmethod
    def _store(self, event: Event) -> None:
        """Keep ``event``; called with the sequence lock held, so it must be quick."""

    def flush(self) -> None:  # noqa: B027 - optional: in-memory logs have nothing to commit
        """Block until every appended event is committed (no-op for in-memory logs)."""

    @abstractmethod
    def events(
        self,
        run_id: str | None = None,
        *,
        types: Iterable[str] | None = None,
        after_seq: int = -1,
        session_id: str | None = None,
    ) -> list[Event]:
        """Events in ``seq`` order, optionally of one run or session, some types, after a ``seq``."""

    def runs(self) -> list[RunSummary]:
        """One summary per run, oldest first."""
        return summarize_runs(self.events())

    def resolve_run_id(self, prefix: str) -> str:
        """The full id of the one run whose id starts with ``prefix``."""
        if not prefix:
            raise AgentcoreError("a run id is required")
        matches = [r.run_id for r in self.runs() if r.run_id.startswith(prefix)]
        if not matches:
            raise AgentcoreError(
                f"no run '{prefix}' in the event log", hint="list runs with `agentcore runs`"
            )
        if len(matches) > 1 and prefix not in matches:
            raise AgentcoreError(
                f"run id '{prefix}' is ambiguous ({len(matches)} runs match); give more characters"
            )
        return prefix if prefix in matches else matches[0]

    def close(self) -> None:
        self._run_close_hooks()
        self.flush()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def summarize_runs(events: Iterable[Event]) -> list[RunSummary]:
    """Fold events into per-run summaries (shared by every log implementation)."""
    runs: dict[str, RunSummary] = {}
    for e in events:
        if not e.run_id:
            continue
        s = runs.get(e.run_id)
        if s is None:
            s = runs[e.run_id] = RunSummary(run_id=e.run_id, started=e.ts, session_id=e.session_id)
        s.events += 1
        if e.type == "RunProvisioned":
            s.graph_name = getattr(e, "graph_name", "")
            s.kind = getattr(e, "kind", "graph") or "graph"
            s.started = e.ts
        elif e.type == "RunResumed":
            s.status = "incomplete"
            s.ended = None
        elif e.type == "NodeSucceeded":
            s.nodes_succeeded += 1
        elif e.type == "NodeFailed" and getattr(e, "final", True):
            s.nodes_failed += 1
        elif e.type == "RunExecuted":
            s.status = getattr(e, "status", "succeeded")
            s.ended = e.ts
        elif e.type == "RunVanished":
            s.ended = e.ts
    return list(runs.values())
