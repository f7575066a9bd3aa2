"""One writer per file: every event log handle appends through the owner's writer.

In the owner process, a second :class:`DuckDBEventLog` on the same file (``Runtime.durable()``
beside ``project.event_log``, or the state server) becomes a handle on the first one, so the
process has one ``seq`` counter and one group-commit thread. In a client process the handle
queues appends and a sender thread ships them in batches; the owner appends them to its own log
(one ``seq`` for every process), commits, and answers with their numbers. A batch is acknowledged
only once committed, so ``flush()`` here means what it means in the owner. If the owner dies, the
unacknowledged batch is sent again to the next owner (or appended here, if this process takes over),
which skips what the dead owner had already committed.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..db import Database, _registry_lock
from ..errors import EventLogError
from ..eventlog import duckdb as _duckdb
from ..eventlog.base import EventLog, RunSummary
from ..eventlog.duckdb import DuckDBEventLog
from ..events import Event
from . import wire
from .client import Promoted, StateLink

_cores: weakref.WeakKeyDictionary[Database, DuckDBEventLog] = weakref.WeakKeyDictionary()


def _incref(db: Database) -> Database:
    with _registry_lock:
        db._refs += 1
    return db


def route(cls: type, path: str | Path | None, database: Database | None) -> Any:
    """The object ``DuckDBEventLog(path, database=...)`` constructs: the writer, or a handle on it."""
    from ..home import database_path

    db = database if database is not None else Database.open(path if path is not None else database_path())
    with _duckdb._shared_lock:
        core = _cores.get(db)
        handle = getattr(db, "link", None) is not None or getattr(core, "_refs", 0) > 0
        obj: Any = object.__new__(SharedEventLog if handle else cls)
        if not handle:
            _cores[db] = obj
    obj.__dict__["_opened_db"] = db
    return obj


def core_for(db: Database) -> DuckDBEventLog:
    """This process's writer for a local file (created, or one more reference on it)."""
    with _duckdb._shared_lock:
        core = _cores.get(db)
        if core is not None and getattr(core, "_refs", 0) > 0:
            core._refs += 1
            return core
    log = DuckDBEventLog(database=_incref(db))
    return log


def not_committed(db: Database, log: DuckDBEventLog, events: list[Event]) -> list[Event]:
    """The events of a resent batch that the previous owner had not committed."""
    if not events:
        return events
    log.flush()
    rows = db.execute(
        "SELECT type, ts, run_id, node_id FROM events WHERE ts BETWEEN ? AND ?",
        [min(e.ts for e in events), max(e.ts for e in events)],
    )
    seen = set(rows)
    return [e for e in events if (e.type, e.ts, e.run_id, e.node_id) not in seen]


class SharedEventLog(DuckDBEventLog):
    """A :class:`DuckDBEventLog` whose writer is elsewhere: in this process, or the owner's."""

    #: Numbered by the owner's writer (its ``_store``), not queued here as the writer's rows.
    append = EventLog.append

    def __init__(self, path: str | Path | None = None, *, database: Database | None = None) -> None:
        EventLog.__init__(self)
        opened = self.__dict__.pop("_opened_db")
        self._db = database if database is not None else opened
        self.path = self._db.path
        self._refs = 1
        self._closed = False
        self._closing = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self._pending: list[Event] = []
        self._inflight: list[Event] = []
        self._link: StateLink | None = getattr(self._db, "link", None)
        self._core: DuckDBEventLog | None = None
        self._sender: threading.Thread | None = None
        if self._link is None:
            self._core = core_for(self._db)
        else:
            self._remote("open")
            if self._core is None:
                self._sender = threading.Thread(
                    target=self._send_loop, name="agentcore-eventlog-client", daemon=True
                )
                self._sender.start()
        _duckdb._open_logs.add(self)

    # ------------------------------------------------------------------ writing
    def _store(self, event: Event) -> None:
        """Called by ``EventLog.append`` (so whatever it adds to events applies here too)."""
        with self._cond:
            if self._closed:
                raise EventLogError(f"event log {self.path} is closed")
            core = self._core
            if core is None:
                event.seq = -1  # numbered by the owner when it acknowledges the batch
                self._pending.append(event)
                if len(self._pending) == 1:
                    self._cond.notify_all()
                return
        core.enqueue(event)

    def _send_loop(self) -> None:
        assert self._link is not None
        link = self._link
        while True:
            with self._cond:
                while not self._pending and not self._closing and self._core is None:
                    self._cond.wait()
                if self._core is not None or not self._pending:
                    return
                batch, self._pending = self._pending, []
                self._inflight = batch
            resent = False
            while True:
                if link.local_db is not None:
                    self._take_over(link.local_db, batch, resent)
                    return
                generation = link.generation
                try:
                    sock = link.connection()
                except OSError:
                    if not self._recover(generation):
                        break
                    resent = True
                    continue
                try:
                    seqs = link.request(sock, "log.append", (batch, resent), {})
                except (OSError, EOFError, wire.ConnectionLost):
                    sock.close()
                    if not self._recover(generation):
                        break
                    resent = True
                    continue
                except BaseException as exc:
                    link.give_back(sock)
                    self._fail(exc)
                    break
                link.give_back(sock)
                for e, seq in zip(batch, seqs, strict=True):
                    if seq >= 0:
                        e.seq = seq
                break
            with self._cond:
                self._inflight = []
                self._cond.notify_all()

    def _recover(self, generation: int) -> bool:
        assert self._link is not None
        try:
            self._link.recover(generation)
            return True
        except BaseException as exc:
            self._fail(exc)
            return False

    def _fail(self, exc: BaseException) -> None:
        with self._cond:
            self._error = exc
            self._cond.notify_all()

    def _take_over(self, db: Database, batch: list[Event], resent: bool) -> None:
        """This process became the owner: what was queued goes to its own writer, in order."""
        core = core_for(db)
        with self._cond:
            rest, self._pending = self._pending, []
            todo = (not_committed(db, core, batch) if resent else batch) + rest
            for e in todo:
                core.enqueue(e)
            self._core = core
            self._inflight = []
            self._cond.notify_all()

    def flush(self) -> None:
        with self._cond:
            while (self._pending or self._inflight) and self._error is None and self._core is None:
                if self._sender is None or not self._sender.is_alive():
                    break
                self._cond.wait(0.5)
            if self._error is not None:
                err = self._error
                msg = str(err).splitlines()[0] if str(err) else type(err).__name__
                raise EventLogError(f"event log {self.path} could not commit: {msg}")
            core = self._core
        if core is not None:
            core.flush()

    # ------------------------------------------------------------------ reading
    def _remote(self, what: str, *args: Any, **kwargs: Any) -> Any:
        """``what`` on the owner's log, or on this process's writer once it owns the file."""
        while True:
            if self._core is None and self._link is not None and self._link.local_db is not None:
                with self._cond:
                    if self._sender is None or not self._sender.is_alive():
                        self._take_over(self._link.local_db, [], False)
                    else:
                        self._cond.notify_all()
                        while self._core is None and self._sender.is_alive():
                            self._cond.wait(0.5)
            core = self._core
            if core is not None:
                return getattr(core, what)(*args, **kwargs) if what != "open" else None
            assert self._link is not None
            try:
                return self._link.call(f"log.{what}", *args, **kwargs)
            except Promoted:
                continue

    def events(
        self,
        run_id: str | None = None,
        *,
        types: Iterable[str] | None = None,
        after_seq: int = -1,
        session_id: str | None = None,
    ) -> list[Event]:
        self.flush()
        extra = {} if session_id is None else {"session_id": session_id}
        return self._remote(  # type: ignore[no-any-return]
            "events", run_id, types=None if types is None else list(types), after_seq=after_seq, **extra
        )

    def runs(self) -> list[RunSummary]:
        self.flush()
        return self._remote("runs")  # type: ignore[no-any-return]

    def count(self) -> int:
        self.flush()
        return int(self._remote("count"))

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        with _duckdb._shared_lock:
            if self._closed:
                return
            self._refs -= 1
            if self._refs > 0:
                last = False
            else:
                last = True
                if _duckdb._shared.get(str(self.path)) is self:
                    del _duckdb._shared[str(self.path)]
        if not last:
            self.flush()
            return
        try:
            self.flush()
        finally:
            with self._cond:
                self._closing = True
                self._closed = True
                self._cond.notify_all()
            if self._sender is not None:
                self._sender.join(timeout=10)
            _duckdb._open_logs.discard(self)
            if self._core is not None:
                self._core.close()
            self._db.close()
