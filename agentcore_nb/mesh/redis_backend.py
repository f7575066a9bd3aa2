"""The Redis Streams backend (redis-py): agents in separate processes or on other machines.

``XADD`` appends, ``XREADGROUP`` hands new entries to one consumer of a group, ``XACK``
acknowledges, ``XAUTOCLAIM`` takes over entries a dead consumer never acknowledged, ``SET NX``
records applied idempotency keys. A lost connection (redis-server restarted) is retried with
backoff until ``reconnect_s`` has passed; only then does a call fail, with one line naming the URL.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .backend import Entry
from .message import MeshError

T = TypeVar("T")

#: For each handled entry: record its outcome unless one is there, acknowledge it, return the outcome
#: now stored. One command (atomic on the server) for a whole batch of handled messages.
_FINISH = """
local out, ids = {}, {}
for i = 2, #KEYS do
  local value = ARGV[2 * i]
  if not redis.call('SET', KEYS[i], value, 'NX', 'PX', ARGV[1]) then value = redis.call('GET', KEYS[i]) end
  out[i - 1] = value
  ids[i - 1] = ARGV[2 * i - 1]
end
redis.call('XACK', KEYS[1], ARGV[2], unpack(ids))
return out
"""


class _Line:
    """A connection of our own for one hot path (publishing, or a consumer's ack-and-read).

    redis-py's client adds 15-20 us of CPU to every command (pool checkout, retry and event hooks);
    a dedicated connection skips that. One thread uses it at a time: a caller that finds it busy
    takes the client's ordinary path instead, so threads never wait on each other here.
    """

    def __init__(self, pool: Any, response_error: type[Exception]) -> None:
        self._pool = pool
        self._response_error = response_error
        self._conn: Any = None
        self._pid = 0
        self.lock = threading.Lock()

    def call(self, packed: bytes, replies_expected: int) -> list[Any]:
        """Send commands packed by :func:`pack`, in one write; read their replies (an error reply
        comes back as its exception). The caller holds :attr:`lock`. A broken connection is
        dropped and the error raised, so the next call reconnects."""
        if self._conn is None or self._pid != os.getpid():  # first use, or a forked child
            self._conn, self._pid = self._pool.make_connection(), os.getpid()
        conn = self._conn
        try:
            conn.send_packed_command([packed], check_health=False)
            replies: list[Any] = []
            for _ in range(replies_expected):
                try:
                    replies.append(conn.read_response())
                except self._response_error as exc:
                    replies.append(exc)
            return replies
        except BaseException:
            conn.disconnect()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.disconnect()


def pack(*args: str | int) -> bytes:
    """One command in RESP (what redis-py's packer makes, without its per-argument type checks)."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode() if isinstance(arg, str) else b"%d" % arg
        out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


def _stream_entries(reply: Any) -> list[Entry]:
    """Entries of an XREADGROUP reply as the wire has it (RESP2 list or RESP3 map)."""
    if not reply:
        return []
    streams = reply.items() if isinstance(reply, dict) else reply
    out = []
    for _, entries in streams:
        for entry_id, fields in entries:
            data = ""
            for i in range(0, len(fields or ()) - 1, 2):
                if fields[i] == "m":
                    data = fields[i + 1]
                    break
            out.append(Entry(entry_id, data, 1))
    return out


def _redis() -> Any:
    try:
        import redis
    except ImportError:
        raise MeshError("the Redis backend needs redis-py", hint="pip install 'agentcore-nb[mesh]'") from None
    return redis


class RedisBackend:
    name = "redis"

    def __init__(self, url: str, *, reconnect_s: float = 30.0, connect_timeout_s: float = 5.0) -> None:
        redis = _redis()
        self.url = url
        self.reconnect_s = reconnect_s
        self._errors = (redis.ConnectionError, redis.TimeoutError, OSError)
        self._response_error = redis.ResponseError
        try:
            self._r = redis.Redis.from_url(
                url,
                decode_responses=True,
                socket_connect_timeout=connect_timeout_s,
                health_check_interval=0,
            )
        except ValueError as exc:
            raise MeshError(f"bad Redis URL {url!r}: {exc}", hint="use redis://HOST:PORT[/DB]") from None
        self._groups: set[tuple[str, str]] = set()
        self._finish = self._r.register_script(_FINISH)
        self._add_line = _Line(self._r.connection_pool, redis.ResponseError)
        self._read_line = _Line(self._r.connection_pool, redis.ResponseError)
        self._packed_reads: dict[tuple[str, str, int, int, str], bytes] = {}
        self._with_retry(self._r.ping)

    def _with_retry(self, fn: Callable[[], T]) -> T:
        deadline = time.monotonic() + self.reconnect_s
        delay = 0.05
        while True:
            try:
                return fn()
            except self._errors as exc:
                if time.monotonic() >= deadline:
                    raise MeshError(f"Redis at {self.url} is unreachable ({exc})") from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def add(self, topic: str, data: str) -> str:
        line = self._add_line
        if not line.lock.acquire(blocking=False):  # another thread is publishing: the client's way
            return str(self._with_retry(lambda: self._r.xadd(topic, {"m": data})))
        try:
            packed = pack("XADD", topic, "*", "m", data)
            (entry_id,) = self._with_retry(lambda: line.call(packed, 1))
        finally:
            line.lock.release()
        if isinstance(entry_id, Exception):
            raise MeshError(f"Redis refused: {entry_id}")
        return str(entry_id)

    def ensure_group(self, topic: str, group: str) -> None:
        def create() -> None:
            try:
                self._r.xgroup_create(topic, group, id="0", mkstream=True)
            except self._response_error as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

        self._with_retry(create)
        self._groups.add((topic, group))

    def _grouped(self, topic: str, group: str, fn: Callable[[], T]) -> T:
        """Run ``fn``; if the group vanished (a broker restarted without its data), make it again."""
        try:
            return self._with_retry(fn)
        except self._response_error as exc:
            if "NOGROUP" not in str(exc):
                raise MeshError(f"Redis refused: {exc}") from None
            self.ensure_group(topic, group)
            return self._with_retry(fn)

    def read_group(self, topic: str, group: str, consumer: str, count: int, block_s: float) -> list[Entry]:
        block_ms = max(1, int(block_s * 1000))

        def read() -> Any:
            return self._r.xreadgroup(group, consumer, {topic: ">"}, count=count, block=block_ms)

        return self._entries(self._grouped(topic, group, read))

    @staticmethod
    def _entries(reply: Any) -> list[Entry]:
        return [
            Entry(entry_id, fields.get("m", ""), 1)
            for _, entries in reply or []
            for entry_id, fields in entries
        ]

    def ack(self, topic: str, group: str, ids: list[str]) -> int:
        if not ids:
            return 0
        return int(self._with_retry(lambda: self._r.xack(topic, group, *ids)))

    def claim_idle(self, topic: str, group: str, consumer: str, min_idle_s: float, count: int) -> list[Entry]:
        min_idle_ms = int(min_idle_s * 1000)

        def claim() -> Any:
            return self._r.xautoclaim(
                topic, group, consumer, min_idle_time=min_idle_ms, start_id="0-0", count=count
            )

        reply = self._grouped(topic, group, claim)
        entries = reply[1] if reply else []
        out: list[Entry] = []
        for entry_id, fields in entries:
            if fields is None:  # trimmed away meanwhile
                continue
            info = self._with_retry(
                functools.partial(self._r.xpending_range, topic, group, entry_id, entry_id, 1)
            )
            deliveries = int(info[0]["times_delivered"]) if info else 2
            out.append(Entry(entry_id, fields.get("m", ""), deliveries))
        return out

    def read(self, topic: str, after: str, count: int, block_s: float) -> list[Entry]:
        block_ms = max(1, int(block_s * 1000))
        reply = self._with_retry(lambda: self._r.xread({topic: after}, count=count, block=block_ms))
        return [
            Entry(entry_id, fields.get("m", "")) for _, entries in reply or [] for entry_id, fields in entries
        ]

    def last_id(self, topic: str) -> str:
        reply = self._with_retry(lambda: self._r.xrevrange(topic, count=1))
        return str(reply[0][0]) if reply else "0"

    def remember(self, key: str, value: str, ttl_s: float) -> bool:
        return bool(self._with_retry(lambda: self._r.set(key, value, nx=True, px=int(ttl_s * 1000))))

    def recall(self, key: str) -> str | None:
        value = self._with_retry(lambda: self._r.get(key))
        return None if value is None else str(value)

    def recall_many(self, keys: list[str]) -> list[str | None]:
        if not keys:
            return []
        return [None if v is None else str(v) for v in self._with_retry(lambda: self._r.mget(keys))]

    @staticmethod
    def _finish_args(
        topic: str, group: str, done: list[tuple[str, str, str]], ttl_s: float
    ) -> tuple[list[str], list[Any]]:
        keys = [topic, *(key for _, key, _ in done)]
        args: list[Any] = [int(ttl_s * 1000), group]
        for entry_id, _, value in done:
            args += [entry_id, value]
        return keys, args

    def finish(self, topic: str, group: str, done: list[tuple[str, str, str]], ttl_s: float) -> list[str]:
        if not done:
            return []
        keys, args = self._finish_args(topic, group, done, ttl_s)
        stored = self._grouped(topic, group, lambda: self._finish(keys=keys, args=args))
        return [str(v) for v in stored]

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
        line = self._read_line
        if not line.lock.acquire(blocking=False):  # another consumer of this backend has it
            return self.finish(topic, group, done, ttl_s), self.read_group(
                topic, group, consumer, count, block_s
            )
        block_ms = max(1, int(block_s * 1000))
        read = (group, consumer, count, block_ms, topic)
        packed_read = self._packed_reads.get(read)
        if packed_read is None:  # the same few per consumer: packed once
            packed_read = pack(
                "XREADGROUP",
                "GROUP",
                group,
                consumer,
                "COUNT",
                count,
                "BLOCK",
                block_ms,
                "STREAMS",
                topic,
                ">",
            )
            if len(self._packed_reads) >= 64:
                self._packed_reads.clear()
            self._packed_reads[read] = packed_read
        packed = packed_read
        if done:
            keys, args = self._finish_args(topic, group, done, ttl_s)
            packed = pack("EVALSHA", self._finish.sha, len(keys), *keys, *args) + packed_read
        try:
            replies = self._with_retry(lambda: line.call(packed, 2 if done else 1))
        finally:
            line.lock.release()
        reply = replies[-1]
        stored = replies[0] if done else []
        if isinstance(stored, Exception):  # NOSCRIPT (a restarted broker), NOGROUP: the slow way
            keys, args = self._finish_args(topic, group, done, ttl_s)
            stored = self._grouped(topic, group, lambda: self._finish(keys=keys, args=args))
        if isinstance(reply, Exception):
            if "NOGROUP" not in str(reply):
                raise MeshError(f"Redis refused: {reply}")
            return [str(v) for v in stored], self.read_group(topic, group, consumer, count, block_s)
        return [str(v) for v in stored], _stream_entries(reply)

    def delete(self, topic: str) -> None:
        self._with_retry(lambda: self._r.delete(topic))

    def stats(self, prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for topic in sorted(
            self._with_retry(lambda: list(self._r.scan_iter(match=f"{prefix}*", _type="stream")))
        ):
            length = int(self._with_retry(functools.partial(self._r.xlen, topic)))
            groups = {}
            for g in self._with_retry(functools.partial(self._r.xinfo_groups, topic)):
                consumers = self._with_retry(functools.partial(self._r.xinfo_consumers, topic, g["name"]))
                groups[g["name"]] = {
                    "pending": int(g["pending"]),
                    "consumers": sorted(c["name"] for c in consumers),
                }
            out[topic] = {"length": length, "groups": groups}
        return out

    def close(self) -> None:
        try:
            self._add_line.close()
            self._read_line.close()
            self._r.close()
        except Exception:
            pass
