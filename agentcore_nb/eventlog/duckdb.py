"""The durable event log: one DuckDB table, written by a group-commit thread.

A commit costs about 1-2 ms of CPU here whatever its size (up to a few hundred events), so
appending does not commit. Appends queue events, encoded as table rows (:func:`row`), in ``seq``
order; a writer thread commits everything queued so far in one transaction, ``LINGER_S`` after the
first of them (at once when a ``flush()`` waits), then takes the next batch. The committed log is therefore always a prefix of
the appended sequence: a process killed at any moment leaves a log that ends at some event, never
a gap, having lost at most the last ``LINGER_S`` of events. ``flush()`` waits for the commit of
everything appended before it (the runtime flushes at the end of every run, and before a node's
dependents start in ``durability="sync"`` mode; a clean shutdown flushes).
"""

from __future__ import annotations

import atexit
import json
import threading
import time
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson

from ..db import Database
from ..errors import EventLogError
from ..events import Event, _json_default, from_json
from ..home import database_path
from .base import EventLog, RunSummary

SCHEMA_VERSION = 1
#: How long the writer waits for more events before committing, unless a flush is waiting. A
#: stream of events (notebook cells run back to back, a long graph run) then shares one commit per
#: LINGER_S: at 50 ms a cell every 10 ms cost about 1 ms of the writer's CPU per cell, competing
#: with the kernel's own threads on a 2-core machine; at 200 ms, about 0.1 ms.
LINGER_S = 0.2
_DDL = [
    """CREATE TABLE IF NOT EXISTS events (
        seq BIGINT NOT NULL,
        run_id VARCHAR,
        session_id VARCHAR,
        node_id VARCHAR,
        type VARCHAR NOT NULL,
        ts DOUBLE NOT NULL,
        body VARCHAR NOT NULL
    )""",
]
_INSERT = (
    "INSERT INTO events SELECT unnest(?::BIGINT[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
    "unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::DOUBLE[]), unnest(?::VARCHAR[])"
)
_COLUMNS = ("seq", "run_id", "session_id", "node_id", "type", "ts", "body")
_TEXT = frozenset((1, 2, 3, 4, 6))  # the VARCHAR columns' positions in _COLUMNS
#: orjson reading values as ``json.dumps`` does, or not at all: what it would encode otherwise
#: (dataclasses, datetimes, subclasses of str/int/dict/list, non-string keys) goes to ``_refuse``.
_ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _refuse(value: Any) -> Any:
    raise TypeError


def encode(event: Event) -> str:
    """The event's JSON body as stored: what ``Event.to_json`` gives, about 5x quicker (the log
    writer's main cost when serving). Plain JSON values go through orjson; an event holding
    anything else (a set, a NumPy number, an object that ``to_json`` stores as its ``repr``, an
    integer past 64 bits, a lone surrogate) or whose encoding has a ``null`` (orjson writes NaN and
    infinities as ``null``) is encoded by ``to_json``. Differences left: non-ASCII text is stored
    as UTF-8 instead of ``\\u`` escapes (the same string when read), and a ``uuid.UUID`` or a plain
    ``Enum`` member is stored as its value where ``to_json`` stored its ``repr``.
    """
    try:
        out = orjson.dumps(event.to_dict(), default=_refuse, option=_ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is one
        return event.to_json()
    if b"null" in out:
        return event.to_json()
    return out.decode()


#: An event as the table stores it: seq, run_id, session_id, node_id, type, ts, body.
Row = tuple[int, str, str, str, str, float, str]


def row(event: Event) -> Row:
    """The event's table row, its body encoded now (by the appending thread, when it is appended).

    The writer's queue then holds strings and numbers, not events: the cyclic garbage collector
    has nothing to scan in it (a tuple of atomic values is untracked at its first collection),
    where queued events and their dicts, alive for the writer's linger, survived into the older
    generations and were scanned there again and again (when serving, about 10% of the process's
    CPU and pauses of 5-15 ms). And the writer commits without a long encoding stretch holding
    the GIL. The body is what the event held when it was appended, not when it was committed.
    """
    return (event.seq, event.run_id, event.session_id, event.node_id, event.type, event.ts, _body(event))


def _body(event: Event) -> str:
    try:
        return encode(event)
    except Exception:  # JSON cannot hold it even as text (a cycle, a failing __repr__)
        return _degraded(event)


_SEQ_KEY = '"seq":'


def with_seq(body: str, seq: int) -> str:
    """``body`` (an event's JSON encoded before its ``seq`` was assigned) carrying ``seq``. The
    first ``"seq":`` in the text is the key: inside a JSON string every quote is escaped, so a
    quote never directly follows ``seq`` there; the value ends at the next comma (``v`` follows)."""
    start = body.index(_SEQ_KEY) + len(_SEQ_KEY)
    return f"{body[:start]}{seq}{body[body.index(',', start) :]}"


def _degraded(event: Event) -> str:
    """The body of an event ``to_json`` cannot encode: each field that fails is stored as a
    ``{"$unencodable": "<type>: <error>"}`` marker, so the append (and the log) never fails on it."""
    data = event.to_dict()
    for name, value in data.items():
        try:
            json.dumps(value, default=_json_default)
        except Exception as exc:
            data[name] = {"$unencodable": f"{type(value).__name__}: {type(exc).__name__}"}
    return json.dumps(data, separators=(",", ":"), default=_json_default)


_open_logs: weakref.WeakSet[DuckDBEventLog] = weakref.WeakSet()
_shared: dict[str, DuckDBEventLog] = {}
_shared_lock = threading.RLock()  # re-entered by state/eventlog.py when a log is built inside shared()


@atexit.register
def _flush_all_at_exit() -> None:
    for log in list(_open_logs):
        try:
            log._refs = 1
            log.close()
        except Exception:
            pass


class DuckDBEventLog(EventLog):
    """Events in the ``events`` table of the project's DuckDB file."""

    durable = True

    def __new__(cls, path: str | Path | None = None, *, database: Database | None = None) -> DuckDBEventLog:
        """One writer per file: a second log on the same file is a handle on it (agentcore_nb/state/)."""
        if cls is not DuckDBEventLog:
            return super().__new__(cls)
        from ..state.eventlog import route

        return route(cls, path, database)  # type: ignore[no-any-return]

    def __init__(self, path: str | Path | None = None, *, database: Database | None = None):
        super().__init__()
        opened = self.__dict__.pop("_opened_db", None)
        self._db = database or opened or Database.open(path if path is not None else database_path())
        self.path = self._db.path
        self._db.ensure_schema("eventlog", SCHEMA_VERSION, _DDL)
        row = self._db.execute("SELECT max(seq) FROM events")[0]
        self._next_seq = 0 if row[0] is None else int(row[0]) + 1
        self._committed = self._next_seq - 1
        #: Appended events as table rows, their bodies encoded at append (:func:`row`).
        self._rows: list[Row] = []
        self._first_append = 0.0  # when the oldest queued event was appended (monotonic)
        self._cond = threading.Condition()
        self._flushing = 0  # callers waiting in flush(): commit now, no lingering
        self._closing = False
        self._closed = False
        self._error: BaseException | None = None
        self._writer = threading.Thread(target=self._write_loop, name="agentcore-eventlog", daemon=True)
        self._writer.start()
        self._refs = 1
        _open_logs.add(self)

    @classmethod
    def shared(cls, path: str | Path) -> DuckDBEventLog:
        """The one log per file in this process (two writers would hand out the same ``seq``)."""
        key = str(Path(path).resolve())
        with _shared_lock:
            log = _shared.get(key)
            if log is None or log._closed:
                log = _shared[key] = cls(database=Database.open(key))
            else:
                log._refs += 1
            return log

    # ------------------------------------------------------------------ writing
    def append(self, event: Event) -> Event:
        """``EventLog.append``, numbered and queued by :meth:`enqueue`."""
        self.enqueue(event)
        self._tell(event)
        return event

    def enqueue(self, event: Event) -> None:
        """Number ``event`` and queue its row, the body encoded before the sequence lock is taken:
        under it the event is only numbered and queued (a thread switched out while encoding under
        the lock would stall every other appending thread behind it). Listeners are not told: a
        handle on this writer (``state/eventlog.py``) tells its own."""
        body = _body(event)
        with self._seq_lock:
            seq = event.seq = self._next_seq
            self._next_seq += 1
            self._queue(
                (
                    seq,
                    event.run_id,
                    event.session_id,
                    event.node_id,
                    event.type,
                    event.ts,
                    with_seq(body, seq),
                )
            )

    def _store(self, event: Event) -> None:
        self._queue(row(event))

    def _queue(self, entry: Row) -> None:
        if self._closed:
            raise EventLogError(f"event log {self.path} is closed")
        with self._cond:
            self._rows.append(entry)
            if len(self._rows) == 1:
                self._first_append = time.monotonic()
                self._cond.notify()

    def _write_loop(self) -> None:
        cur = self._db.cursor()
        while True:
            with self._cond:
                while not self._rows and not self._closing:
                    self._cond.wait()
                if not self._rows:
                    break
                # Linger for more events unless someone waits for them: a notebook cell's commit
                # then happens after its reply, not beside it, and bursts share one commit.
                until = self._first_append + LINGER_S
                while not self._closing and not self._flushing and len(self._rows) < 4096:
                    left = until - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                batch, self._rows = self._rows, []
            try:
                self._insert(cur, batch)
            except BaseException as exc:
                with self._cond:
                    self._error = exc
                    self._cond.notify_all()
                continue
            with self._cond:
                self._committed = batch[-1][0]
                self._cond.notify_all()
        cur.close()

    @staticmethod
    def _insert(cur: duckdb.DuckDBPyConnection, batch: list[Row]) -> None:
        """Insert rows (:func:`row`) in one transaction."""
        cols = [list(c) for c in zip(*batch, strict=True)]
        cur.execute("BEGIN")
        try:
            if len(batch) >= 64:  # big batches: from NumPy arrays, 10-30x quicker than unnest(list)
                # Text as object arrays: np.asarray would copy every string into a fixed-width
                # UCS-4 array as wide as the longest body (3x the cost of the insert itself).
                arrays = [
                    np.array(c, dtype=object) if i in _TEXT else np.asarray(c) for i, c in enumerate(cols)
                ]
                cur.register("event_batch", dict(zip(_COLUMNS, arrays, strict=True)))
                cur.execute("INSERT INTO events SELECT * FROM event_batch")
                cur.unregister("event_batch")
            else:
                cur.execute(_INSERT, cols)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def flush(self) -> None:
        with self._cond:
            target = self._next_seq - 1
            if self._committed >= target and self._error is None:
                return
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._committed < target and self._error is None:
                    if not self._writer.is_alive():
                        break
                    self._cond.wait(0.5)
            finally:
                self._flushing -= 1
            if self._error is not None:
                msg = str(self._error).splitlines()[0] if str(self._error) else type(self._error).__name__
                raise EventLogError(f"event log {self.path} could not commit: {msg}")

    # ------------------------------------------------------------------ reading
    def _query(self, sql: str, params: list | None = None) -> list[tuple]:
        self.flush()
        with self._db.lock, self._db.damage_as_error():
            return self._db.con.execute(sql, params or []).fetchall()  # type: ignore[no-any-return]

    def events(
        self,
        run_id: str | None = None,
        *,
        types: Iterable[str] | None = None,
        after_seq: int = -1,
        session_id: str | None = None,
    ) -> list[Event]:
        where: list[str] = ["seq > ?"]
        params: list[Any] = [after_seq]
        if run_id is not None:
            where.append("run_id = ?")
            params.append(run_id)
        if session_id is not None:
            where.append("session_id = ?")
            params.append(session_id)
        if types is not None:
            type_list = list(types)
            if not type_list:
                return []
            where.append("type IN (" + ",".join("?" * len(type_list)) + ")")
            params.extend(type_list)
        rows = self._query(f"SELECT body FROM events WHERE {' AND '.join(where)} ORDER BY seq", params)
        return [from_json(r[0]) for r in rows]

    def runs(self) -> list[RunSummary]:
        rows = self._query(
            """
            SELECT run_id,
                   any_value(session_id),
                   min(ts),
                   count(*),
                   count(*) FILTER (WHERE type = 'NodeSucceeded'),
                   count(*) FILTER (WHERE type = 'NodeFailed'
                                    AND json_extract(body, '$.final')::BOOLEAN),
                   max(json_extract_string(body, '$.graph_name')) FILTER (WHERE type = 'RunProvisioned'),
                   arg_max(json_extract_string(body, '$.status'), seq) FILTER (WHERE type = 'RunExecuted'),
                   max(seq) FILTER (WHERE type = 'RunExecuted'),
                   max(seq) FILTER (WHERE type = 'RunResumed'),
                   max(ts) FILTER (WHERE type IN ('RunExecuted', 'RunVanished')),
                   min(seq),
                   max(json_extract_string(body, '$.kind')) FILTER (WHERE type = 'RunProvisioned')
            FROM events WHERE run_id <> '' GROUP BY run_id ORDER BY min(seq)
            """
        )
        out = []
        for r in rows:
            executed_after_resume = r[8] is not None and (r[9] is None or r[8] > r[9])
            out.append(
                RunSummary(
                    run_id=r[0],
                    session_id=r[1] or "",
                    started=r[2],
                    events=r[3],
                    nodes_succeeded=r[4],
                    nodes_failed=r[5],
                    graph_name=r[6] or "",
                    kind=r[12] or "graph",
                    status=r[7] if executed_after_resume else "incomplete",
                    ended=r[10] if executed_after_resume else None,
                )
            )
        return out

    def count(self) -> int:
        return int(self._query("SELECT count(*) FROM events")[0][0])

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Release one user; the last one flushes, stops the writer and closes the file."""
        with _shared_lock:
            if self._closed:
                return
            self._refs -= 1
            if self._refs > 0:
                self.flush()
                return
            if _shared.get(str(self.path)) is self:
                del _shared[str(self.path)]
        try:
            self._run_close_hooks()
            self.flush()
        finally:
            with self._cond:
                self._closing = True
                self._cond.notify_all()
            self._writer.join(timeout=10)
            self._closed = True
            _open_logs.discard(self)
            self._db.close()
