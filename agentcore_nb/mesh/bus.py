"""The bus: publish/subscribe, consumer groups, request/reply, retries, dead letters, idempotency.

Written once over a :class:`StreamBackend` (in-process or Redis). Delivery is at least once: a
consumer acknowledges a message only after it handled it, and a message whose consumer died is
claimed by another after ``claim_idle_s``. Each message has an idempotency key (its own id unless
the publisher gives one); the first consumer to finish records the outcome under that key, so a
redelivered message is answered from the record instead of being applied twice. A handler that
raises is retried (a fresh delivery) up to ``max_deliveries`` times, then the message goes to the
dead-letter topic ``TOPIC.dlq`` with the reason, and a requester gets the error as its reply.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from ..observability import conventions as conv
from .backend import Entry, StreamBackend
from .message import (
    MeshError,
    MeshMessage,
    MeshTimeout,
    RemoteError,
    context_of,
    current_traceparent,
    decode,
    dumps,
    encode,
    encode_new,
    new_id,
    traceparent_of,
)

log = logging.getLogger("agentcore_nb.mesh")

Handler = Callable[[Any, MeshMessage], Any]

DEAD_LETTER_SUFFIX = ".dlq"
REPLY_PREFIX = "mesh.reply."
DONE_TTL_S = 24 * 3600.0
#: Handled messages of a batch are recorded and acknowledged together, at the latest after this long
#: (a reply-to message at once), so a consumer killed mid-batch re-applies at most this much work.
FLUSH_AFTER_S = 0.05


def dead_letter_topic(topic: str) -> str:
    return topic + DEAD_LETTER_SUFFIX


def _check_topic(topic: str) -> str:
    if not isinstance(topic, str) or not topic.strip() or any(c.isspace() for c in topic):
        raise MeshError(
            f"bad topic {topic!r}", hint="a topic is a non-empty name without spaces, e.g. kitchen.grill"
        )
    return topic


class Subscription:
    """A consumer running in a background thread; :meth:`stop` ends it (in-flight work finishes)."""

    def __init__(
        self,
        bus: Bus,
        topic: str,
        handler: Handler,
        *,
        group: str,
        consumer: str,
        max_deliveries: int,
        claim_idle_s: float,
        poll_s: float,
    ) -> None:
        self.bus, self.topic, self.handler = bus, topic, handler
        self.group, self.consumer = group, consumer
        self.max_deliveries = max_deliveries
        self.claim_idle_s = claim_idle_s
        self.poll_s = poll_s
        self.handled = 0
        self.duplicates = 0
        self.failures = 0
        self._stop = threading.Event()
        # Handled entries whose outcomes are not yet recorded (nor the entries acknowledged).
        self._done: list[tuple[str, str, str]] = []
        self._done_messages: list[MeshMessage] = []
        bus.backend.ensure_group(topic, group)
        self._thread = threading.Thread(target=self._loop, name=f"mesh-{topic}-{consumer}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        backend = self.bus.backend
        next_claim = 0.0
        while not self._stop.is_set():
            try:
                entries: list[Entry] = []
                now = time.monotonic()
                if now >= next_claim:
                    # Record and acknowledge first: a handled entry still pending would look idle.
                    self._flush()
                    entries = backend.claim_idle(self.topic, self.group, self.consumer, self.claim_idle_s, 10)
                    next_claim = now + min(self.claim_idle_s / 2, 5.0)
                if not entries:
                    entries = self._finish_and_read()
                self._handle_batch(entries)
            except Exception as exc:  # the broker went away, or a bug: keep consuming
                self._done.clear()  # left pending: redelivered, then handled again
                self._done_messages.clear()
                log.warning("mesh consumer %s on %s: %s", self.consumer, self.topic, exc)
                self._stop.wait(1.0)
        try:
            self._flush()
        except Exception as exc:
            log.warning("mesh consumer %s on %s: %s", self.consumer, self.topic, exc)

    def _finish_and_read(self) -> list[Entry]:
        """Record and acknowledge the last batch in the round trip that reads the next one."""
        outcomes, entries = self.bus.backend.finish_and_read(
            self.topic, self.group, self._done, DONE_TTL_S, self.consumer, 10, self.poll_s
        )
        self._replied(outcomes)
        return entries

    def _done_key(self, message: MeshMessage) -> str:
        return f"mesh:done:{self.topic}:{self.group}:{message.key or message.message_id}"

    def _handle_batch(self, entries: list[Entry]) -> None:
        """Decode a batch, look its idempotency records up in one round trip, handle each in order.

        Outcomes are recorded and entries acknowledged together: at once for a request (its
        requester waits), otherwise with the next read (see :meth:`_finish_and_read`) or after
        ``FLUSH_AFTER_S`` in a long batch.
        """
        if not entries:
            return
        backend = self.bus.backend
        decoded: list[tuple[Entry, MeshMessage]] = []
        for entry in entries:
            try:
                decoded.append((entry, decode(entry.data)))
            except MeshError as exc:
                self.bus._dead_letter(self.topic, None, entry.data, str(exc), entry.deliveries)
                backend.ack(self.topic, self.group, [entry.id])
        # Only a message with a publisher's key, or one delivered before, can have a record already:
        # a fresh message's own id is new. The common case costs no lookup.
        check = [i for i, (e, m) in enumerate(decoded) if m.key or m.deliveries or e.deliveries > 1]
        found = backend.recall_many([self._done_key(decoded[i][1]) for i in check]) if check else []
        records: list[str | None] = [None] * len(decoded)
        for i, value in zip(check, found, strict=True):
            records[i] = value
        started = time.monotonic()
        in_batch: dict[str, str] = {}  # outcomes of this batch by key: a repeated key is a duplicate
        for (entry, message), recorded in zip(decoded, records, strict=True):
            if self._stop.is_set():
                break  # left pending: another consumer claims it
            key = self._done_key(message)
            handled = self._handle(entry, message, recorded or in_batch.get(key))
            if handled is not None:
                in_batch[key] = handled
                self._done.append((entry.id, key, handled))
                self._done_messages.append(message)
            # A requester is waiting, or the batch has taken a while: record and acknowledge now.
            if self._done and (message.reply_to or time.monotonic() - started > FLUSH_AFTER_S):
                self._flush()
                started = time.monotonic()

    def _flush(self) -> None:
        """Record the outcomes of the handled entries and acknowledge them, one round trip."""
        if self._done:
            self._replied(self.bus.backend.finish(self.topic, self.group, self._done, DONE_TTL_S))

    def _replied(self, outcomes: list[str]) -> None:
        """The recorded outcomes of ``self._done`` are stored: answer requesters, start afresh."""
        for message, outcome in zip(self._done_messages, outcomes, strict=True):
            self.bus._reply_from_record(message, outcome)
        self.handled += len(outcomes)
        self._done.clear()
        self._done_messages.clear()

    def _handle(self, entry: Entry, message: MeshMessage, recorded: str | None) -> str | None:
        """Run the handler; its outcome (JSON) to record, or None when nothing is left to record."""
        bus, backend = self.bus, self.bus.backend
        attempt = message.deliveries + entry.deliveries
        if recorded is not None:
            self.duplicates += 1
            bus._reply_from_record(message, recorded)
            backend.ack(self.topic, self.group, [entry.id])
            return None
        span = bus.tracer.start_span(
            conv.span_name(conv.PROCESS, self.topic),
            context=context_of(message),
            kind=trace.SpanKind.CONSUMER,
        )
        if span.is_recording():
            span.set_attributes(
                {
                    conv.MESSAGING_SYSTEM: backend.name,
                    conv.MESSAGING_OPERATION_TYPE: conv.PROCESS,
                    conv.MESSAGING_DESTINATION: self.topic,
                    conv.MESSAGING_CONSUMER_GROUP: self.group,
                    conv.MESSAGING_MESSAGE_ID: message.message_id,
                    conv.MESSAGING_CONVERSATION_ID: message.correlation_id,
                    conv.MESH_ATTEMPT: attempt,
                }
            )
        # Make the span current for the handler only when there is a trace to continue: with no
        # SDK and no incoming context it is a no-op, and the hot path skips the context switch.
        token = (
            otel_context.attach(trace.set_span_in_context(span)) if span.get_span_context().is_valid else None
        )
        try:
            try:
                result = self.handler(message.payload, message)
                outcome = dumps({"status": "ok", "payload": result})
            except Exception as exc:
                span.set_status(trace.StatusCode.ERROR, f"{type(exc).__name__}: {exc}")
                self.failures += 1
                self._failed(entry, message, attempt, exc)
                return None
        finally:
            if token is not None:
                otel_context.detach(token)
            span.end()
        return outcome

    def _failed(self, entry: Entry, message: MeshMessage, attempt: int, exc: Exception) -> None:
        bus, backend = self.bus, self.bus.backend
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if attempt >= self.max_deliveries:
            bus._dead_letter(self.topic, message, None, reason, attempt)
            outcome = json.dumps({"status": "error", "error_type": type(exc).__name__, "error": str(exc)})
            bus._reply_from_record(message, outcome)
        else:
            retry = dataclasses.replace(message, deliveries=attempt, error=reason)
            backend.add(self.topic, encode(retry))
        backend.ack(self.topic, self.group, [entry.id])


class Bus:
    """Topics over one backend. ``name`` identifies this participant (its private reply topic)."""

    def __init__(
        self,
        backend: StreamBackend,
        *,
        name: str | None = None,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        self.backend = backend
        self.tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer("agentcore_nb.mesh")
        self.name = name or new_id()[:12]
        self._subscriptions: list[Subscription] = []
        self._waiting: dict[str, Future[MeshMessage]] = {}
        self._waiting_lock = threading.Lock()
        self._replies: threading.Thread | None = None
        self._closed = threading.Event()

    @property
    def reply_topic(self) -> str:
        return REPLY_PREFIX + self.name

    # -- publishing ---------------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        payload: Any = None,
        *,
        key: str = "",
        headers: dict[str, str] | None = None,
        _reply: tuple[str, str] | None = None,
    ) -> str:
        """Append a message to ``topic``; returns its message id once the broker holds it."""
        _check_topic(topic)
        message_id = new_id()
        reply_to, correlation_id = _reply or ("", "")
        span = self.tracer.start_span(conv.span_name(conv.SEND, topic), kind=trace.SpanKind.PRODUCER)
        try:
            if span.is_recording():
                span.set_attributes(
                    {
                        conv.MESSAGING_SYSTEM: self.backend.name,
                        conv.MESSAGING_OPERATION_TYPE: conv.SEND,
                        conv.MESSAGING_DESTINATION: topic,
                        conv.MESSAGING_MESSAGE_ID: message_id,
                    }
                )
            # A trace to continue (recorded or propagated) travels as the W3C traceparent.
            traceparent = traceparent_of(span) if span.get_span_context().is_valid else ""
            data = encode_new(
                topic,
                message_id,
                payload,
                key=key,
                sender=self.name,
                headers=dict(headers) if headers else {},
                reply_to=reply_to,
                correlation_id=correlation_id,
                traceparent=traceparent,
            )
            self.backend.add(topic, data)
        except BaseException as exc:
            span.set_status(trace.StatusCode.ERROR, f"{type(exc).__name__}: {exc}")
            raise
        finally:
            span.end()
        return message_id

    def request(self, topic: str, payload: Any = None, *, timeout: float = 30.0, key: str = "") -> Any:
        """Publish and wait for the reply of the worker that handled it; its value, or the error."""
        reply = self.request_message(topic, payload, timeout=timeout, key=key)
        if reply.status == "error":
            raise RemoteError(topic, reply.error_type, reply.error)
        return reply.payload

    def request_message(
        self, topic: str, payload: Any = None, *, timeout: float = 30.0, key: str = ""
    ) -> MeshMessage:
        self._ensure_reply_listener()
        correlation = new_id()
        future: Future[MeshMessage] = Future()
        with self._waiting_lock:
            self._waiting[correlation] = future
        try:
            self.publish(topic, payload, key=key, _reply=(self.reply_topic, correlation))
            try:
                return future.result(timeout)
            except FutureTimeout:
                raise MeshTimeout(
                    f"no reply on '{topic}' within {timeout:g} s",
                    hint=f"is a worker running? start one with: agentcore mesh worker BUNDLE --topic {topic}",
                ) from None
        finally:
            with self._waiting_lock:
                self._waiting.pop(correlation, None)

    # -- consuming ----------------------------------------------------------------------------

    def subscribe(
        self,
        topic: str,
        handler: Handler,
        *,
        group: str = "workers",
        consumer: str | None = None,
        max_deliveries: int = 3,
        claim_idle_s: float = 30.0,
        poll_s: float = 0.5,
    ) -> Subscription:
        """Handle ``topic`` in the background; consumers sharing ``group`` split its messages.

        ``handler(payload, message)`` returns the reply (JSON) for requests; raising retries the
        message, up to ``max_deliveries`` deliveries in all, then dead-letters it.
        """
        _check_topic(topic)
        if max_deliveries < 1:
            raise MeshError("max_deliveries must be at least 1")
        sub = Subscription(
            self,
            topic,
            handler,
            group=group,
            consumer=consumer or f"{self.name}-{len(self._subscriptions) + 1}",
            max_deliveries=max_deliveries,
            claim_idle_s=claim_idle_s,
            poll_s=poll_s,
        )
        self._subscriptions.append(sub)
        return sub

    def dead_letters(self, topic: str) -> list[MeshMessage]:
        """Messages given up on ``topic``, oldest first (each with its ``reason``)."""
        out = []
        for entry in self.backend.read(dead_letter_topic(topic), "0", 10_000, 0.001):
            try:
                out.append(decode(entry.data))
            except MeshError:
                continue
        return out

    def status(self, prefix: str = "") -> dict[str, Any]:
        """Topics with their length, groups, pending counts and consumers (reply topics left out)."""
        stats = self.backend.stats(prefix)
        return {t: s for t, s in stats.items() if not t.startswith(REPLY_PREFIX)}

    def close(self) -> None:
        """Stop this bus's consumers and reply listener, and drop its reply topic."""
        self._closed.set()
        for sub in self._subscriptions:
            sub.stop()
        if self._replies is not None:
            self._replies.join(5.0)
            try:
                self.backend.delete(self.reply_topic)
            except MeshError:
                pass

    def __enter__(self) -> Bus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------

    def _ensure_reply_listener(self) -> None:
        with self._waiting_lock:
            if self._replies is not None:
                return
            start = self.backend.last_id(self.reply_topic)
            self._replies = threading.Thread(
                target=self._listen_replies, args=(start,), name=f"mesh-replies-{self.name}", daemon=True
            )
            self._replies.start()

    def _listen_replies(self, after: str) -> None:
        while not self._closed.is_set():
            try:
                entries = self.backend.read(self.reply_topic, after, 100, 0.5)
            except MeshError as exc:
                log.warning("mesh reply listener: %s", exc)
                self._closed.wait(1.0)
                continue
            for entry in entries:
                after = entry.id
                try:
                    reply = decode(entry.data)
                except MeshError:
                    continue
                with self._waiting_lock:
                    future = self._waiting.get(reply.correlation_id)
                if future is not None and not future.done():  # a duplicate reply is dropped here
                    future.set_result(reply)

    def _reply_from_record(self, message: MeshMessage, record: str) -> None:
        if not message.reply_to:
            return
        outcome = json.loads(record)
        reply = MeshMessage(
            topic=message.reply_to,
            message_id=new_id(),
            correlation_id=message.correlation_id,
            payload=outcome.get("payload"),
            status=outcome.get("status", "ok"),
            error_type=outcome.get("error_type", ""),
            error=outcome.get("error", ""),
            sender=self.name,
            traceparent=current_traceparent(),
        )
        self.backend.add(message.reply_to, encode(reply))

    def _dead_letter(
        self, topic: str, message: MeshMessage | None, raw: str | None, reason: str, deliveries: int
    ) -> None:
        dead = MeshMessage(
            topic=dead_letter_topic(topic),
            message_id=message.message_id if message else new_id(),
            payload=message.payload if message else raw,
            key=message.key if message else "",
            correlation_id=message.correlation_id if message else "",
            traceparent=message.traceparent if message else "",
            sender=self.name,
            reason=reason,
            deliveries=deliveries,
            headers={"original_topic": topic},
        )
        self.backend.add(dead.topic, encode(dead))
        log.info("mesh: dead-lettered a message on %s after %d deliveries: %s", topic, deliveries, reason)
