"""An in-memory event log for tests, notebooks without persistence and benchmarks."""

from __future__ import annotations

from collections.abc import Iterable

from ..events import Event
from .base import EventLog


class InMemoryEventLog(EventLog):
    def __init__(self) -> None:
        super().__init__()
        self._events: list[Event] = []

    def _store(self, event: Event) -> None:
        self._events.append(event)

    def events(
        self,
        run_id: str | None = None,
        *,
        types: Iterable[str] | None = None,
        after_seq: int = -1,
        session_id: str | None = None,
    ) -> list[Event]:
        wanted = set(types) if types is not None else None
        with self._seq_lock:
            snapshot = list(self._events)
        return [
            e
            for e in snapshot
            if (run_id is None or e.run_id == run_id)
            and (wanted is None or e.type in wanted)
            and e.seq > after_seq
            and (session_id is None or e.session_id == session_id)
        ]

    def __len__(self) -> int:
        return len(self._events)
