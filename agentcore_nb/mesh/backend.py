"""The stream seam every bus backend implements, shaped after Redis Streams.

A topic is an append-only stream of entries. Consumer groups read new entries (each entry goes to
one consumer of a group), acknowledge them, and claim entries another consumer took but never
acknowledged (it died). Both backends (in-process and Redis) pass the same conformance tests, so
the bus logic above them (retries, dead letters, idempotency, request/reply) is written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(slots=True, frozen=True)
class Entry:
    """One stream entry as a consumer sees it; ``deliveries`` counts hand-outs in its group."""

    id: str
    data: str
    deliveries: int = 1


class StreamBackend(Protocol):
    name: str

    def add(self, topic: str, data: str) -> str:
        """Append ``data`` to ``topic``; return the entry id once the broker has it."""

    def ensure_group(self, topic: str, group: str) -> None:
        """Create ``group`` on ``topic`` (reading from the start) unless it exists."""

    def read_group(self, topic: str, group: str, consumer: str, count: int, block_s: float) -> list[Entry]:
        """Entries no consumer of ``group`` has had yet; waits up to ``block_s`` for one."""

    def ack(self, topic: str, group: str, ids: list[str]) -> int:
        """Mark entries handled; return how many were pending."""

    def claim_idle(self, topic: str, group: str, consumer: str, min_idle_s: float, count: int) -> list[Entry]:
        """Take over entries pending longer than ``min_idle_s`` (their consumer died or hangs)."""

    def read(self, topic: str, after: str, count: int, block_s: float) -> list[Entry]:
        """Entries after id ``after`` ("0" for all), outside any group; waits up to ``block_s``."""

    def last_id(self, topic: str) -> str:
        """The id of the newest entry, or "0" for an empty or missing topic."""

    def remember(self, key: str, value: str, ttl_s: float) -> bool:
        """Store ``value`` under ``key`` unless present (True when stored now)."""

    def recall(self, key: str) -> str | None:
        """The value stored under ``key``, if any."""

    def recall_many(self, keys: list[str]) -> list[str | None]:
        """:meth:`recall` for several keys in one round trip."""

    def finish(self, topic: str, group: str, done: list[tuple[str, str, str]], ttl_s: float) -> list[str]:
        """For each ``(entry_id, key, outcome)``: record the outcome under ``key`` unless one is there,
        and acknowledge the entry; all in one round trip. Returns the outcomes now stored (another
        consumer's where it finished first)."""

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
        """:meth:`finish` then :meth:`read_group`, in this order, in one round trip: a consumer
        acknowledges its last batch with the read that fetches its next one."""

    def delete(self, topic: str) -> None:
        """Drop a topic (used for a requester's private reply topic)."""

    def stats(self, prefix: str = "") -> dict[str, Any]:
        """Per topic: length, and per group: pending and consumers."""

    def close(self) -> None: ...
