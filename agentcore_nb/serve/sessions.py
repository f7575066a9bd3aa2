"""Runtime sessions: the ``X-Amzn-Bedrock-AgentCore-Runtime-Session-Id`` header selects one.

A session is the run's ``session_id`` (its short-term memory and its identity session) and a
namespace code nodes share between its requests. It expires after ``idle`` seconds without a request
and after ``max_lifetime`` seconds in all; a request naming an expired session is refused (the
client starts a new one), as AgentCore's runtime ends a session's microVM.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ..errors import AgentcoreError

#: Expired ids remembered (to refuse them by name) before the oldest are forgotten.
TOMBSTONES = 100_000


class SessionExpired(AgentcoreError):
    """The request names a session that expired."""


class Session:
    __slots__ = ("created", "id", "last_used", "namespace")

    def __init__(self, session_id: str, now: float) -> None:
        self.id = session_id
        self.created = now
        self.last_used = now
        self.namespace: dict[str, Any] = {}


class SessionTable:
    """Sessions by id, with idle and lifetime expiry; safe from many threads."""

    def __init__(
        self,
        *,
        idle: float = 900.0,
        max_lifetime: float = 8 * 3600.0,
        on_expire: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if idle <= 0 or max_lifetime <= 0:
            raise AgentcoreError("session idle timeout and maximum lifetime must be positive")
        self.idle = idle
        self.max_lifetime = max_lifetime
        self.on_expire = on_expire
        self.clock = clock
        self._lock = threading.Lock()
        self._live: dict[str, Session] = {}
        self._expired: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._live)

    def _why(self, s: Session, now: float) -> str:
        if now - s.created >= self.max_lifetime:
            return f"reached its maximum lifetime of {self.max_lifetime:g}s"
        if now - s.last_used >= self.idle:
            return f"was idle for more than {self.idle:g}s"
        return ""

    def _bury(self, s: Session, why: str) -> None:
        self._live.pop(s.id, None)
        self._expired[s.id] = why
        while len(self._expired) > TOMBSTONES:
            self._expired.popitem(last=False)

    def touch(self, session_id: str) -> Session:
        """The live session (made on first use), or :class:`SessionExpired` naming why."""
        now = self.clock()
        ended = None
        with self._lock:
            s = self._live.get(session_id)
            if s is not None:
                why = self._why(s, now)
                if why:
                    self._bury(s, why)
                    ended, s = why, None
            if s is None:
                why = ended or self._expired.get(session_id, "")
                if why:
                    exc = SessionExpired(
                        f"session {session_id!r} expired: it {why}",
                        hint="start a new session (send another session id)",
                    )
                else:
                    s = self._live[session_id] = Session(session_id, now)
                    s.last_used = now
                    return s
            else:
                s.last_used = now
                return s
        if ended and self.on_expire:
            self.on_expire(session_id)
        raise exc

    def sweep(self) -> int:
        """Expire what is due; returns how many ended (called periodically by the server)."""
        now = self.clock()
        with self._lock:
            due = [(s, w) for s in list(self._live.values()) if (w := self._why(s, now))]
            for s, why in due:
                self._bury(s, why)
        if self.on_expire:
            for s, _ in due:
                self.on_expire(s.id)
        return len(due)
