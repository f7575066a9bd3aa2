"""The span store: finished spans written into the project's DuckDB file by a background thread,
so a run's trace can be read later (``agentcore traces``, ``%trace``) without an OpenTelemetry
backend. The hot path only appends the finished span to a list; conversion and the batched
``executemany`` happen off it. Spans still open are kept in memory so a live view can show them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import orjson
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from ..db import Database
from ..errors import AgentcoreError
from . import conventions as conv

SCHEMA_VERSION = 1
DDL = [
    """CREATE TABLE IF NOT EXISTS spans (
        trace_id VARCHAR NOT NULL,
        span_id VARCHAR NOT NULL,
        parent_id VARCHAR,
        run_id VARCHAR,
        name VARCHAR NOT NULL,
        start_ns BIGINT NOT NULL,
        end_ns BIGINT,
        status VARCHAR NOT NULL,
        status_message VARCHAR,
        attributes VARCHAR NOT NULL,
        events VARCHAR NOT NULL
    )""",
]
COLUMNS = (
    "trace_id, span_id, parent_id, run_id, name, start_ns, end_ns, status, status_message, attributes, events"
)
#: How often the span writer looks for work (the hot path never wakes it).
_POLL_S = 0.05
_TYPES = ("VARCHAR",) * 5 + ("BIGINT",) * 2 + ("VARCHAR",) * 4
#: The whole batch in one statement, one list per column: about 0.6 ms of CPU for a few spans, where
#: ``executemany`` runs row by row (about 0.2 ms of CPU per row here).
_INSERT = f"INSERT INTO spans ({COLUMNS}) SELECT " + ", ".join(f"unnest(?::{t}[])" for t in _TYPES)
#: Big batches (a served process ends hundreds of spans a second) go in from NumPy object arrays
#: instead: about 3x less CPU than unnest(list) for a thousand spans.
_BIG = 64
_INSERT_BIG = (
    f"INSERT INTO spans ({COLUMNS}) SELECT "
    + ", ".join(f"c{i}::{t}" for i, t in enumerate(_TYPES))
    + " FROM span_batch"
)
_ORJSON = orjson.OPT_NON_STR_KEYS


def _dumps(value: Any) -> str:
    """``json.dumps(value, default=str)`` done by orjson (5x quicker); what orjson refuses (an
    integer past 64 bits) by json."""
    try:
        return orjson.dumps(value, default=str, option=_ORJSON).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, default=str)


class TraceNotFoundError(AgentcoreError):
    """No span of that run in the store."""


@dataclass(slots=True)
class SpanRecord:
    """One span as the store and the views see it (times in ns since the epoch)."""

    trace_id: str
    span_id: str
    parent_id: str
    run_id: str
    name: str
    start_ns: int
    end_ns: int | None
    status: str  # ok | error | unset | running
    status_message: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def duration_ms(self) -> float | None:
        return None if self.end_ns is None else (self.end_ns - self.start_ns) / 1e6

    def to_dict(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "parent_id": self.parent_id,
            "run_id": self.run_id,
            "name": self.name,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "duration_ms": self.duration_ms,
            "status": self.status,
            "status_message": self.status_message,
            "attributes": self.attributes,
            "events": self.events,
        }


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return list(value)
    return value


def record_of(span: ReadableSpan, run_id: str, *, running: bool = False) -> SpanRecord:
    """A :class:`SpanRecord` of an SDK span (finished, or still open when ``running``)."""
    ctx = span.context
    parent = span.parent
    status = "running" if running else span.status.status_code.name.lower()
    return SpanRecord(
        trace_id=_hex(ctx.trace_id, 32) if ctx else "",
        span_id=_hex(ctx.span_id, 16) if ctx else "",
        parent_id=_hex(parent.span_id, 16) if parent is not None else "",
        run_id=run_id,
        name=span.name,
        start_ns=span.start_time or 0,
        end_ns=None if running else span.end_time,
        status=status,
        status_message=span.status.description or "",
        attributes={k: _jsonable(v) for k, v in (span.attributes or {}).items()},
        events=[
            {"name": e.name, "time_ns": e.timestamp, "attributes": dict(e.attributes or {})}
            for e in span.events
        ],
    )


def _row(rec: SpanRecord) -> tuple[Any, ...]:
    return (
        rec.trace_id,
        rec.span_id,
        rec.parent_id,
        rec.run_id,
        rec.name,
        rec.start_ns,
        rec.end_ns,
        rec.status,
        rec.status_message,
        _dumps(rec.attributes),
        _dumps(rec.events),
    )


class SpanStore:
    """Reads and writes the ``spans`` table of one project database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema("spans", SCHEMA_VERSION, DDL)
        #: Rows that could not be read by the last query (a corrupt row is skipped, not fatal).
        self.skipped = 0

    def write(self, records: Sequence[SpanRecord]) -> None:
        self.write_rows([_row(r) for r in records])

    def write_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Write rows in the order of ``COLUMNS`` (attributes and events as JSON text)."""
        if not rows:
            return
        columns = [list(col) for col in zip(*rows, strict=True)]
        cur = self.db.cursor()
        try:
            if len(rows) >= _BIG:
                batch = {f"c{i}": np.array(col, dtype=object) for i, col in enumerate(columns)}
                cur.register("span_batch", batch)
                try:
                    cur.execute(_INSERT_BIG)  # one statement, one commit per batch
                finally:
                    cur.unregister("span_batch")
            else:
                cur.execute(_INSERT, columns)
        finally:
            cur.close()

    def _query(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        cur = self.db.cursor()
        try:
            with self.db.damage_as_error():
                return cur.execute(sql, params).fetchall()
        finally:
            cur.close()

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """Runs with spans, newest first: run id, root name, start, duration, spans, errors."""
        rows = self._query(
            "SELECT run_id, min(start_ns), max(end_ns), count(*), count(*) FILTER (status = 'error'), "
            "arg_min(name, start_ns), any_value(trace_id) FROM spans WHERE run_id <> '' "
            "GROUP BY run_id ORDER BY min(start_ns) DESC LIMIT ?",
            [limit],
        )
        return [
            {
                "run_id": r[0],
                "start_ns": r[1],
                "duration_ms": None if r[2] is None else (r[2] - r[1]) / 1e6,
                "spans": r[3],
                "errors": r[4],
                "name": r[5],
                "trace_id": r[6],
            }
            for r in rows
        ]

    def span_counts(self, run_ids: Sequence[str]) -> dict[str, int]:
        """How many stored spans carry each of ``run_ids`` (absent: none)."""
        ids = list(dict.fromkeys(run_ids))
        if not ids:
            return {}
        rows = self._query(
            "SELECT run_id, count(*) FROM spans WHERE run_id IN (" + ",".join("?" * len(ids)) + ") "
            "GROUP BY run_id",
            ids,
        )
        return {r[0]: int(r[1]) for r in rows}

    def spans(self, run_id: str) -> list[SpanRecord]:
        """The run's spans and every span under them (tool calls, child runs), in start order; a run
        inside a larger trace (a `%graph run` or an agent started from a notebook cell) gets its own
        subtree, not the whole notebook's trace."""
        rows = self._query(
            f"SELECT {COLUMNS} FROM spans WHERE trace_id IN "
            "(SELECT DISTINCT trace_id FROM spans WHERE run_id = ?) ORDER BY start_ns, span_id",
            [run_id],
        )
        out: list[SpanRecord] = []
        self.skipped = 0
        for r in rows:
            try:
                out.append(
                    SpanRecord(
                        trace_id=r[0],
                        span_id=r[1],
                        parent_id=r[2] or "",
                        run_id=r[3] or "",
                        name=r[4],
                        start_ns=int(r[5]),
                        end_ns=None if r[6] is None else int(r[6]),
                        status=r[7],
                        status_message=r[8] or "",
                        attributes=_obj(json.loads(r[9]), dict),
                        events=_obj(json.loads(r[10]), list),
                    )
                )
            except (TypeError, ValueError):
                self.skipped += 1
        return run_subtree(out, run_id)

    def run_ids_like(self, prefix: str) -> list[str]:
        rows = self._query("SELECT DISTINCT run_id FROM spans WHERE starts_with(run_id, ?) LIMIT 5", [prefix])
        return [r[0] for r in rows]


def run_subtree(records: list[SpanRecord], run_id: str) -> list[SpanRecord]:
    """The spans of ``run_id`` whose parent is not of the run (its roots) and all their descendants."""
    mine = {r.span_id for r in records if r.run_id == run_id}
    children: dict[str, list[SpanRecord]] = {}
    for r in records:
        children.setdefault(r.parent_id, []).append(r)
    keep: set[str] = set()
    todo = [r for r in records if r.run_id == run_id and r.parent_id not in mine]
    while todo:
        r = todo.pop()
        if r.span_id in keep:
            continue
        keep.add(r.span_id)
        todo.extend(children.get(r.span_id, ()))
    return [r for r in records if r.span_id in keep]


def _obj(value: Any, kind: type) -> Any:
    if not isinstance(value, kind):
        raise ValueError("not a JSON " + kind.__name__)
    return value


class LiveSpan(Protocol):
    """A span of the project's light tracer (``lightspan.LightSpan``) as the processor sees it."""

    _end: int | None
    _run: str

    @property
    def span_id(self) -> int: ...

    def run_id(self) -> str: ...

    def row(self) -> tuple[Any, ...]: ...

    def record(self, *, running: bool = False) -> SpanRecord: ...


class StoreSpanProcessor(SpanProcessor):
    """Hands finished spans to a writer thread that commits them in batches: the SDK's spans
    (``on_start`` / ``on_end``, when OTLP export is on) and the light tracer's (``begin`` / ``finish``)."""

    def __init__(self, store: SpanStore, *, max_age: float = 0.5, max_batch: int = 20000) -> None:
        self.store = store
        #: Seconds the oldest finished span waits before the batch is written (a write costs about
        #: 2 ms of CPU whatever its size): spans that keep coming (cells run back to back) share
        #: one write, do not pile up in memory, and a killed process loses at most this much.
        self.max_age = max_age
        self._first_end = 0.0
        self._flushing = 0
        self.max_batch = max_batch
        self._pending: list[ReadableSpan | LiveSpan] = []
        self._run_of: dict[int, str] = {}
        self._open: dict[int, Span | LiveSpan] = {}
        self._cond = threading.Condition()
        self._lock = threading.Lock()
        self._written = 0
        self._appended = 0
        self._stopped = False
        self.error = ""
        self._thread = threading.Thread(target=self._loop, name="agentcore-spans", daemon=True)
        self._thread.start()

    # -- hot path
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        attrs = span.attributes or {}
        run = attrs.get(conv.RUN_ID)
        if not isinstance(run, str):
            parent = span.parent
            run = self._run_of.get(parent.span_id, "") if parent is not None else ""
        sid = span.context.span_id
        self._run_of[sid] = run
        self._open[sid] = span

    def on_end(self, span: ReadableSpan) -> None:
        self._open.pop(span.context.span_id, None)
        with self._lock:  # a plain lock, no wake-up: the writer polls
            if not self._pending:
                self._first_end = time.monotonic()
            self._pending.append(span)
            self._appended += 1

    # -- hot path of the light tracer
    def run_of(self, span_id: int) -> str:
        """The run of a span started here and not yet written ("" if none or unknown)."""
        return self._run_of.get(span_id, "")

    def begin(self, span: LiveSpan) -> None:
        sid = span.span_id
        run = span._run
        if run:
            self._run_of[sid] = run
        self._open[sid] = span

    def finish(self, span: LiveSpan, end_ns: int) -> bool:
        """End ``span`` at ``end_ns`` and queue it for the writer; False if it had ended already."""
        with self._lock:
            if span._end is not None:
                return False
            span._end = end_ns
            if not self._pending:
                self._first_end = time.monotonic()
            self._pending.append(span)
            self._appended += 1
        self._open.pop(span.span_id, None)
        return True

    # -- writer thread
    def _loop(self) -> None:
        """Write when the oldest waiting span is ``max_age`` old, when a flush asks, or when the
        backlog is large: the writer's work then rarely competes with a running graph (or the
        kernel's next cell) for the CPU and the GIL."""
        while True:
            with self._cond:
                while not self._stopped and not self._flushing:
                    old = time.monotonic() - self._first_end >= self.max_age
                    if self._pending and (old or len(self._pending) >= self.max_batch):
                        break
                    self._cond.wait(_POLL_S)
                stopped = self._stopped
            with self._lock:
                batch, self._pending = self._pending, []
            if batch:
                self._write(batch)
            elif stopped:
                return
            else:
                with self._cond:
                    self._cond.notify_all()
                    if self._flushing and self._written >= self._appended:
                        self._cond.wait(_POLL_S)

    def _write(self, batch: list[ReadableSpan | LiveSpan]) -> None:
        rows = []
        run_of = self._run_of
        for span in batch:
            if isinstance(span, ReadableSpan):
                run = run_of.pop(span.context.span_id, "")
                if not run:
                    value = (span.attributes or {}).get(conv.RUN_ID)
                    run = value if isinstance(value, str) else ""
                rows.append(_row(record_of(span, run)))
            else:
                run_of.pop(span.span_id, None)
                rows.append(span.row())
        try:
            self.store.write_rows(rows)
        except Exception as exc:  # the file closed or broke: say so once, never break a run
            if not self.error:
                self.error = f"span store: {type(exc).__name__}: {exc}"
        with self._cond:
            self._written += len(batch)
            self._cond.notify_all()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        deadline = time.monotonic() + timeout_millis / 1000
        with self._cond:
            target = self._appended
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._written < target:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._thread.is_alive():
                        return False
                    self._cond.wait(min(left, 0.05))
            finally:
                self._flushing -= 1
        return True

    def shutdown(self) -> None:
        self.force_flush(10000)
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=10)

    def open_spans(self, trace_ids: Iterable[str] = ()) -> list[SpanRecord]:
        """Spans started and not yet ended (for a live view), optionally of some traces only."""
        wanted = set(trace_ids)
        out = []
        for sid, span in list(self._open.items()):
            if isinstance(span, ReadableSpan):
                rec = record_of(span, self._run_of.get(sid, ""), running=True)
            else:
                rec = span.record(running=True)
            if not wanted or rec.trace_id in wanted:
                out.append(rec)
        return out
