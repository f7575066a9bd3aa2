"""The in-process backend: streams and consumer groups in memory, for notebooks and tests.

It keeps Redis Streams' semantics (ids in order, one consumer per entry in a group, pending
entries until acknowledged, claiming idle ones) so the bus behaves the same on both backends.
One instance per process is shared by every bus that asks for ``inprocess`` (see :func:`shared`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .backend import Entry


@dataclass(slots=True)
class _Pending:
    consumer: str
    since: float
    deliveries: int


@dataclass(slots=True)
class _Group:
    next_index: int = 0
    pending: dict[str, _Pending] = field(default_factory=dict)
    consumers: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Stream:
    entries: list[tuple[str, str]] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    groups: dict[str, _Group] = field(default_factory=dict)
    counter: int = 0


class InProcessBackend:
    name = "inprocess"

    def __init__(self) -> None:
        self._streams: dict[str, _Stream] = {}
        self._kv: dict[str, tuple[str, float]] = {}
        self._cond = threading.Condition()

    def _stream(self, topic: str) -> _Stream:
        stream = self._streams.get(topic)
        if stream is None:
            stream = self._streams[topic] = _Stream()
        return stream

    def add(self, topic: str, data: str) -> str:
        with self._cond:
            stream = self._stream(topic)
            stream.counter += 1
            entry_id = f"{stream.counter}-0"
            stream.index[entry_id] = len(stream.entries)
            stream.entries.append((entry_id, data))
            self._cond.notify_all()
            return entry_id

    def ensure_group(self, topic: str, group: str) -> None:
        with self._cond:
            self._stream(topic).groups.setdefault(group, _Group())

    def read_group(self, topic: str, group: str, consumer: str, count: int, block_s: float) -> list[Entry]:
        deadline = time.monotonic() + block_s
        with self._cond:
            while True:
                stream = self._stream(topic)
                g = stream.groups.setdefault(group, _Group())
                g.consumers.add(consumer)
                if g.next_index < len(stream.entries):
                    taken = stream.entries[g.next_index : g.next_index + count]
                    g.next_index += len(taken)
                    now = time.monotonic()
                    for entry_id, _ in taken:
                        g.pending[entry_id] = _Pending(consumer, now, 1)
                    return [Entry(entry_id, data, 1) for entry_id, data in taken]
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._cond.wait(left)

    def ack(self, topic: str, group: str, ids: list[str]) -> int:
        with self._cond:
            g = self._stream(topic).groups.get(group)
            if g is None:
                return 0
            return sum(1 for i in ids if g.pending.pop(i, None) is not None)

    def claim_idle(self, topic: str, group: str, consumer: str, min_idle_s: float, count: int) -> list[Entry]:
        with self._cond:
            stream = self._stream(topic)
            g = stream.groups.get(group)
            if g is None:
                return []
            now = time.monotonic()
            out: list[Entry] = []
            for entry_id, p in sorted(g.pending.items(), key=lambda kv: stream.index.get(kv[0], 0)):
                if len(out) >= count:
                    break
                if now - p.since >= min_idle_s:
                    p.consumer, p.since, p.deliveries = consumer, now, p.deliveries + 1
                    data = stream.entries[stream.index[entry_id]][1]
                    out.append(Entry(entry_id, data, p.deliveries))
            return out

    def read(self, topic: str, after: str, count: int, block_s: float) -> list[Entry]:
        deadline = time.monotonic() + block_s
        after_n = int(after.split("-")[0] or 0)
        with self._cond:
            while True:
                stream = self._stream(topic)
                start = min(after_n, len(stream.entries))
                # ids are "<n>-0" with n = position + 1, so entries after n start at index n.
                taken = stream.entries[start : start + count]
                if taken:
                    return [Entry(entry_id, data) for entry_id, data in taken]
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._cond.wait(left)

    def last_id(self, topic: str) -> str:
        with self._cond:
            stream = self._streams.get(topic)
            return stream.entries[-1][0] if stream and stream.entries else "0"

    def remember(self, key: str, value: str, ttl_s: float) -> bool:
        with self._cond:
            now = time.monotonic()
            held = self._kv.get(key)
            if held is not None and held[1] > now:
                return False
            self._kv[key] = (value, now + ttl_s)
            return True

    def recall(self, key: str) -> str | None:
        with self._cond:
            held = self._kv.get(key)
            if held is None or held[1] <= time.monotonic():
                return None
            return held[0]

    def recall_many(self, keys: list[str]) -> list[str | None]:
        return [self.recall(k) for k in keys]

    def finish(self, topic: str, group: str, done: list[tuple[str, str, str]], ttl_s: float) -> list[str]:
        with self._cond:
            out = []
            for entry_id, key, value in done:
                if not self.remember(key, value, ttl_s):
                    value = self.recall(key) or value
                self.ack(topic, group, [entry_id])
                out.append(value)
            return out

    def finish_and_read(
        self,
        topic: str,
        group: str,
        done: list[tuple[str, str, str]],
        ttl_s: float,
        consumer: str,
        count: int,
        block_s: float,
    ) -> tuple[list[str], list[Entry]]:
        outcomes = self.finish(topic, group, done, ttl_s) if done else []
        return outcomes, self.read_group(topic, group, consumer, count, block_s)

    def delete(self, topic: str) -> None:
        with self._cond:
            self._streams.pop(topic, None)

    def stats(self, prefix: str = "") -> dict[str, Any]:
        with self._cond:
            out: dict[str, Any] = {}
            for topic, stream in sorted(self._streams.items()):
                if not topic.startswith(prefix):
                    continue
                out[topic] = {
                    "length": len(stream.entries),
                    "groups": {
                        name: {"pending": len(g.pending), "consumers": sorted(g.consumers)}
                        for name, g in sorted(stream.groups.items())
                    },
                }
            return out

    def close(self) -> None:
        """Nothing to release: the shared instance lives as long as the process."""


_shared: InProcessBackend | None = None
_shared_lock = threading.Lock()


def shared() -> InProcessBackend:
    """The process-wide in-process backend, so every bus in a process meets on the same topics."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = InProcessBackend()
        return _shared
