"""What travels on the mesh: one typed event per message, with its trace context.

A message is a :class:`MeshMessage` event (the project's event vocabulary, JSON on the wire). It
carries a message id, an idempotency key (a redelivered message with a key already applied is not
applied twice), a correlation id and reply topic for request/reply, the W3C ``traceparent`` of the
span that published it (so the consumer's spans join the publisher's trace), and how many times it
has been delivered.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ..errors import AgentcoreError
from ..events import Event, event_type

_PROPAGATOR = TraceContextTextMapPropagator()


class MeshError(AgentcoreError):
    """A bus operation failed: no worker answered, the broker is unreachable, a message is malformed."""


class MeshTimeout(MeshError):
    """A request got no reply in time."""


class RemoteError(MeshError):
    """The worker that handled a request failed; ``error_type`` and ``error`` say how."""

    def __init__(self, topic: str, error_type: str, error: str) -> None:
        self.topic = topic
        self.error_type = error_type
        self.error = error
        super().__init__(f"worker on '{topic}' failed: {error_type}: {error}")


@event_type
class MeshMessage(Event):
    """One message on a topic (also the form replies and dead letters take)."""

    topic: str = ""
    message_id: str = ""
    payload: Any = None
    key: str = ""
    correlation_id: str = ""
    reply_to: str = ""
    traceparent: str = ""
    sender: str = ""
    #: Set on replies: "ok" or "error" (then ``error_type`` / ``error``).
    status: str = ""
    error_type: str = ""
    error: str = ""
    #: Set on dead letters: why the message was given up, and after how many deliveries.
    reason: str = ""
    deliveries: int = 0
    headers: dict[str, str] = field(default_factory=dict)


def new_id() -> str:
    return os.urandom(12).hex()


def current_traceparent() -> str:
    """The W3C traceparent of the current span, or "" when no recording span is current."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent", "")


_EMPTY = otel_context.Context()


def traceparent_of(span: trace.Span) -> str:
    """The W3C traceparent naming ``span`` as the parent."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get("traceparent", "")


def context_of(message: MeshMessage) -> otel_context.Context:
    """An OpenTelemetry context whose parent is the publisher's span (empty when it had none)."""
    if not message.traceparent:
        return _EMPTY
    return _PROPAGATOR.extract({"traceparent": message.traceparent})


#: One encoder for every message: ``json.dumps`` with options builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_FIELDS = frozenset(f.name for f in dataclasses.fields(MeshMessage))
#: A message with every field at its default, as the wire has it: a new message copies this and
#: fills in what it sets, so publishing builds no dataclass (same JSON as ``encode``).
_TEMPLATE = MeshMessage().to_dict()


#: Strict, compact JSON; raises TypeError / ValueError as ``json.dumps`` does.
dumps = _ENCODER.encode


def to_json(value: Any) -> str:
    """Strict, compact JSON (NaN and non-JSON types refused as a :class:`MeshError`)."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise MeshError(f"payload is not JSON-serialisable ({exc})") from None


def encode(message: MeshMessage) -> str:
    """Strict JSON (no repr fallback): a payload that is not JSON is refused, never mangled."""
    return to_json(message.to_dict())


def encode_new(topic: str, message_id: str, payload: Any, **fields: Any) -> str:
    """``encode(MeshMessage(topic=..., ...))`` without building the dataclass (the publish path)."""
    if not fields.keys() <= _FIELDS:
        raise MeshError(f"unknown message field(s) {', '.join(sorted(fields.keys() - _FIELDS))}")
    data = _TEMPLATE.copy()
    data["ts"] = time.time()
    data["topic"], data["message_id"], data["payload"] = topic, message_id, payload
    data.update(fields)
    return to_json(data)


def decode(raw: str | bytes) -> MeshMessage:
    """Parse a message from the wire; anything else is a :class:`MeshError` naming what is wrong."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MeshError(f"malformed message: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.pop("type", None) != MeshMessage.type:
        raise MeshError("malformed message: not a MeshMessage event")
    unknown = data.keys() - _FIELDS
    if unknown:
        raise MeshError(f"malformed message: unknown field(s) {', '.join(sorted(unknown))}")
    try:
        message = MeshMessage(**data)
    except TypeError as exc:
        raise MeshError(f"malformed message: {exc}") from None
    if not isinstance(message.topic, str) or not message.topic:
        raise MeshError("malformed message: no topic")
    if not isinstance(message.headers, dict):
        raise MeshError("malformed message: headers must be an object")
    return message


def span_ids_now() -> tuple[str, str]:
    sc = trace.get_current_span().get_span_context()
    if not sc.is_valid:
        return "", ""
    return format(sc.trace_id, "032x"), format(sc.span_id, "016x")
