"""Light spans: the project's own tracer when no user SDK (and no OTLP export) is configured.

Why: every notebook cell and every served request opens spans, and the OpenTelemetry SDK's span is
made for exporters (a lock per span, bounded attribute containers, a sampler, a resource, a
readable copy at the end): about 25 µs of CPU per span start and end here, plus the store's
conversion of each SDK span. The span store needs far less: names, ids, parent, times, attributes,
events and status. A :class:`LightSpan` keeps just that, in slots, and hands itself to the store's
writer thread when it ends (one list append under a lock); the writer builds the row.

They are OpenTelemetry API spans (:class:`opentelemetry.trace.Span` subclasses), so
``trace.use_span``, ``set_span_in_context``, ``get_current_span`` and W3C propagation work as with
the SDK. What the SDK would do is kept where the store or a reader can see it: random 128/64-bit
ids, parent-based sampling of a remote parent, attribute cleaning (sequences become tuples, invalid
keys dropped, other values as the SDK cleans them; at most ``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT``),
``record_exception`` events, the status rules (OK is final, UNSET ignored, a description only with
ERROR) and no change after ``end``. Links and the resource are not kept: the store has neither.
"""

from __future__ import annotations

import logging
import random
import traceback
from collections.abc import Iterator, Mapping, Sequence
from time import time_ns
from types import NoneType, TracebackType
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import SpanLimits
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState
from opentelemetry.util import types

try:  # the SDK's decorator: the context manager can also decorate async functions
    from opentelemetry.util._decorator import _agnosticcontextmanager as _contextmanager
except ImportError:  # pragma: no cover - older opentelemetry-api
    from contextlib import contextmanager as _contextmanager  # type: ignore[assignment]

from . import conventions as conv
from .store import SpanRecord, _dumps, _jsonable

if TYPE_CHECKING:
    from .store import StoreSpanProcessor

_log = logging.getLogger("agentcore_nb.tracing")

#: Attribute values kept as they are (the SDK's cleaning returns them unchanged).
_PLAIN = frozenset({str, int, float, bool, NoneType, bytes})
_STR = frozenset({str})
_LISTS = frozenset({list, tuple})
_STATUS = {StatusCode.UNSET: "unset", StatusCode.OK: "ok", StatusCode.ERROR: "error"}
_FLAGS = [TraceFlags(n) for n in range(256)]
_RANDOM: int = getattr(TraceFlags, "RANDOM_TRACE_ID", 0)  # W3C trace context level 2 (API 1.4x)
_SAMPLED_RANDOM = TraceFlags.SAMPLED | _RANDOM
_DEFAULT_STATE = TraceState()
_bits = random.getrandbits


def _new_id(bits: int) -> int:
    """A random non-zero id, as the SDK's ``RandomIdGenerator`` makes them."""
    value = _bits(bits)
    while not value:
        value = _bits(bits)
    return value


def _clean_value(value: Any, max_len: int | None) -> Any:
    """An attribute value as the SDK (1.4x) cleans it: plain values kept (strings cut at
    ``max_len``), sequences as tuples, mappings as dicts with valid keys, anything else as its
    ``str`` (or None when it has no string form of its own)."""
    if isinstance(value, NoneType | bool | int | float | bytes):
        return value
    if isinstance(value, str):
        return value if max_len is None or len(value) <= max_len else value[:max_len]
    if type(value) in _LISTS and max_len is None and _PLAIN.issuperset(map(type, value)):
        return tuple(value)  # a list of plain values (scopes, tags): no ABC checks
    if isinstance(value, Sequence):
        return tuple(_clean_value(v, max_len) for v in value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not key:
                continue
            if not isinstance(key, str):
                if not _own_str(key):
                    continue
                key = str(key)
            out[key] = _clean_value(item, max_len)
        return out
    _log.warning("Invalid type `%s` for attribute value; its str() is kept.", type(value))
    return str(value) if _own_str(value) else None


def _own_str(value: Any) -> bool:
    kind = type(value)
    return kind.__str__ is not object.__str__ or kind.__repr__ is not object.__repr__


def _clean(attributes: Mapping[str, Any], max_len: int | None) -> dict[str, Any]:
    """The attributes as the SDK keeps them; plain values (the usual case) are only copied."""
    if max_len is None and _STR.issuperset(map(type, attributes)) and "" not in attributes:
        if _PLAIN.issuperset(map(type, attributes.values())):
            return dict(attributes)
        return {k: v if type(v) in _PLAIN else _clean_value(v, None) for k, v in attributes.items()}
    cleaned = _clean_value(attributes, max_len)
    return cleaned if isinstance(cleaned, dict) else {}


class LightSpan(trace.Span):
    """A recording span that keeps what the span store needs, nothing more."""

    #: Set at every start; the fields below them are class defaults, set on a span only when it
    #: differs (a remote parent, a status, an event): fewer stores on the hot path.
    __slots__ = ("_attrs", "_ctx", "_end", "_name", "_parent", "_run", "_span_id", "_start", "_trace_id",
                 "_tracer")  # fmt: skip

    _attrs: dict[str, Any]
    _ctx: SpanContext | None
    _end: int | None
    _name: str
    _parent: int
    _run: str
    _span_id: int
    _start: int
    _trace_id: int
    _tracer: LightTracer

    _flags: int = _SAMPLED_RANDOM
    _state: TraceState = _DEFAULT_STATE
    _kind: SpanKind = SpanKind.INTERNAL
    _events: list[dict[str, Any]] | None = None
    _status: str = "unset"
    _msg: str = ""
    _record_exc: bool = True
    _set_status_exc: bool = True

    # -- what the store reads
    @property
    def span_id(self) -> int:
        return self._span_id

    @property
    def name(self) -> str:
        return self._name

    @property
    def attributes(self) -> Mapping[str, Any]:
        return self._attrs

    @property
    def kind(self) -> SpanKind:
        return self._kind

    def run_id(self) -> str:
        """The run the span belongs to: its own ``agentcore.run.id``, else its parent's run."""
        if self._run:
            return self._run
        value = self._attrs.get(conv.RUN_ID)
        return value if isinstance(value, str) else ""

    def row(self) -> tuple[Any, ...]:
        """The span's row of the ``spans`` table (called by the writer thread, once it ended)."""
        events = self._events
        return (
            format(self._trace_id, "032x"),
            format(self._span_id, "016x"),
            format(self._parent, "016x") if self._parent else "",
            self.run_id(),
            self._name,
            self._start,
            self._end,
            self._status,
            self._msg,
            _dumps(self._attrs),
            _dumps(events) if events else "[]",
        )

    def record(self, *, running: bool = False) -> SpanRecord:
        """The span as a :class:`SpanRecord` (a live view of a span still open)."""
        return SpanRecord(
            trace_id=format(self._trace_id, "032x"),
            span_id=format(self._span_id, "016x"),
            parent_id=format(self._parent, "016x") if self._parent else "",
            run_id=self.run_id(),
            name=self._name,
            start_ns=self._start,
            end_ns=None if running else self._end,
            status="running" if running else self._status,
            status_message=self._msg,
            attributes={k: _jsonable(v) for k, v in list(self._attrs.items())},
            events=list(self._events or ()),
        )

    # -- the OpenTelemetry API
    def get_span_context(self) -> SpanContext:
        ctx = self._ctx
        if ctx is None:
            ctx = self._ctx = SpanContext(
                self._trace_id, self._span_id, False, _FLAGS[self._flags], self._state
            )
        return ctx

    def is_recording(self) -> bool:
        return self._end is None

    def _ended(self, what: str) -> bool:
        if self._end is None:
            return False
        _log.warning("Tried calling %s on an ended span.", what)
        return True

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        if self._end is not None:
            _log.warning("Setting attribute on ended span.")
            return
        if not key or type(key) is not str:
            _log.warning("invalid key `%s`. must be non-empty string. Dropping key from attributes.", key)
            return
        max_len = self._tracer.max_len
        if type(value) not in _PLAIN or max_len is not None:
            value = _clean_value(value, max_len)
        self._put(key, value)

    def _put(self, key: str, value: Any) -> None:
        attrs = self._attrs
        if key in attrs:
            del attrs[key]
        elif len(attrs) >= self._tracer.max_attrs:
            if not attrs:
                return
            _log.warning("Attributes dict is full. Dropping the oldest key-value pair from attributes.")
            del attrs[next(iter(attrs))]
        attrs[key] = value

    def set_attributes(self, attributes: Mapping[str, types.AnyValue]) -> None:
        if self._end is not None:
            _log.warning("Setting attribute on ended span.")
            return
        for key, value in _clean(attributes, self._tracer.max_len).items():
            self._put(key, value)

    def add_event(self, name: str, attributes: types.Attributes = None, timestamp: int | None = None) -> None:
        if self._ended("add_event"):
            return
        attrs = _clean(attributes, self._tracer.max_len) if attributes else {}
        event = {
            "name": name,
            "time_ns": timestamp if timestamp is not None else time_ns(),
            "attributes": attrs,
        }
        events = self._events
        if events is None:
            events = self._events = []
        if len(events) >= self._tracer.max_events:
            if not events:
                return
            del events[0]
        events.append(event)

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        """Links are not kept (the span store has no column for them)."""

    def update_name(self, name: str) -> None:
        if not self._ended("update_name"):
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if self._ended("set_status"):
            return
        if isinstance(status, Status):
            if description is not None:
                _log.warning("Description %s ignored. Use either `Status` or `(StatusCode, Description)`",
                             description)  # fmt: skip
            code, text = status.status_code, status.description
        else:
            code, text = status, (description if status is StatusCode.ERROR else None)
            if text is not None and not isinstance(text, str):
                text = None
        if self._status == "ok" or code is StatusCode.UNSET:
            return
        self._status = _STATUS[code]
        self._msg = text or ""

    def record_exception(self, exception: BaseException, attributes: types.Attributes = None,
                         timestamp: int | None = None, escaped: bool = False) -> None:  # fmt: skip
        module = type(exception).__module__
        qualname = type(exception).__qualname__
        attrs: dict[str, Any] = {
            "exception.type": f"{module}.{qualname}" if module and module != "builtins" else qualname,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            attrs.update(attributes)
        self.add_event("exception", attrs, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if not self._tracer.sink.finish(self, end_time if end_time is not None else time_ns()):
            _log.warning("Calling end() on an ended span.")

    def __exit__(self, exc_type: type[BaseException] | None, exc_val: BaseException | None,
                 exc_tb: TracebackType | None) -> None:  # fmt: skip
        if exc_val is not None and self._end is None:
            if self._record_exc:
                self.record_exception(exc_val, escaped=True)
            if self._set_status_exc:
                self.set_status(Status(StatusCode.ERROR, f"{type(exc_val).__name__}: {exc_val}"))
        self.end()

    def __repr__(self) -> str:
        return f'LightSpan(name="{self._name}", context={self.get_span_context()})'


class LightTracer(trace.Tracer):
    """Starts :class:`LightSpan` s that end into ``sink`` (the store's span processor)."""

    def __init__(self, sink: StoreSpanProcessor, limits: SpanLimits | None = None) -> None:
        limits = limits or SpanLimits()
        self.sink = sink
        self.max_attrs: int = (
            limits.max_span_attributes if limits.max_span_attributes is not None else 1 << 62
        )
        self.max_events: int = limits.max_events if limits.max_events is not None else 1 << 62
        self.max_len: int | None = limits.max_span_attribute_length

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        parent = trace.get_current_span(context)
        if type(parent) is LightSpan:
            trace_id, parent_id, flags, state, run = (
                parent._trace_id, parent._span_id, parent._flags, parent._state, parent._run)  # fmt: skip
        else:
            pctx = parent.get_span_context()
            if pctx.is_valid:
                trace_id, parent_id, state = pctx.trace_id, pctx.span_id, pctx.trace_state
                random_bit = pctx.trace_flags & _RANDOM
                if not pctx.trace_flags & TraceFlags.SAMPLED:  # the SDK's parent-based sampler drops it
                    return trace.NonRecordingSpan(
                        SpanContext(trace_id, _new_id(64), False, _FLAGS[random_bit], state)
                    )
                flags = TraceFlags.SAMPLED | random_bit
                run = self.sink.run_of(parent_id)
            else:
                trace_id, parent_id, flags, state, run = _new_id(128), 0, _SAMPLED_RANDOM, _DEFAULT_STATE, ""
        span = LightSpan.__new__(LightSpan)
        span._name = name
        span._trace_id = trace_id
        span._span_id = _new_id(64)
        span._parent = parent_id
        span._ctx = None
        span._end = None
        span._tracer = self
        if flags != _SAMPLED_RANDOM or state is not _DEFAULT_STATE:
            span._flags, span._state = flags, state
        if kind is not SpanKind.INTERNAL:
            span._kind = kind
        if not record_exception or not set_status_on_exception:
            span._record_exc, span._set_status_exc = record_exception, set_status_on_exception
        if attributes:
            attrs = _clean(attributes, self.max_len)
            if len(attrs) > self.max_attrs:
                attrs = dict(list(attrs.items())[len(attrs) - self.max_attrs :])
            own = attrs.get(conv.RUN_ID)
            if isinstance(own, str):
                run = own
        else:
            attrs = {}
        span._attrs = attrs
        span._run = run
        span._start = start_time if start_time is not None else time_ns()
        self.sink.begin(span)
        return span

    @_contextmanager
    def start_as_current_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace.Span]:
        span = self.start_span(name, context, kind, attributes, links, start_time, record_exception,
                               set_status_on_exception)  # fmt: skip
        with trace.use_span(span, end_on_exit=end_on_exit, record_exception=record_exception,
                            set_status_on_exception=set_status_on_exception) as current:  # fmt: skip
            yield current


class LightTracerProvider(trace.TracerProvider):
    """The project's provider of light spans: one tracer (scopes are not stored), one sink."""

    def __init__(self, sink: StoreSpanProcessor, limits: SpanLimits | None = None) -> None:
        self.sink = sink
        self._tracer = LightTracer(sink, limits)

    def get_tracer(self, instrumenting_module_name: str, instrumenting_library_version: str | None = None,
                   *args: Any, **kwargs: Any) -> trace.Tracer:  # fmt: skip
        return self._tracer

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.sink.force_flush(timeout_millis)

    def shutdown(self) -> None:
        """Nothing of its own to stop: the sink (shut down by its owner) holds the spans."""
