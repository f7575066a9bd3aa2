"""The client's side: a link to the owner of one database file, and taking over when it dies.

Requests go over a small pool of connections (one request at a time per connection). When a
connection breaks, :meth:`StateLink.recover` runs the election again: either another process has
become the owner (reconnect) or this one wins the lock, opens the file and starts serving; callers
then see ``local_db`` and carry on in-process. Reads are retried transparently; a write that was in
flight when the owner died raises :class:`StateOwnerLostError` (it may or may not have been applied),
except event batches, which are resent and de-duplicated by the new owner.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EventLogError
from . import election, wire

if TYPE_CHECKING:
    from ..db import Database

#: How long a process waits for an owner (or to become one) before giving up.
ELECTION_TIMEOUT = float(os.environ.get("AGENTCORE_STATE_TIMEOUT", "30"))


class StateUnavailableError(EventLogError):
    """No process serves the project's state and this one could not take it over."""


class StateOwnerLostError(EventLogError):
    """The owner of the project's state stopped during a write; it may or may not have been applied."""


class Promoted(Exception):
    """Internal: this process became the owner; redo the call in-process."""


def elect(path: Path, open_local: Any, deadline: float) -> tuple[Database | None, socket.socket | None]:
    """Become the owner (``open_local(lock)`` opens the file) or connect to the one that is."""
    delay = 0.005
    while True:
        lock = election.OwnerLock.try_acquire(path)
        if lock is not None:
            try:
                return open_local(lock), None
            except BaseException:
                lock.release()
                raise
        try:
            sock = election.connect(path, timeout=5)
        except OSError:
            sock = None  # the owner is starting, or just died: try again
        if sock is not None:
            try:  # a socket that accepts is not yet an owner that answers (a stopped process)
                sock.settimeout(5)
                wire.send(sock, ("ping", (), {}))
                wire.recv(sock)
                sock.settimeout(None)
                return None, sock
            except (OSError, EOFError, wire.ConnectionLost):
                sock.close()
        if time.monotonic() > deadline:
            raise StateUnavailableError(
                f"the state of {path.parent} is held by another process that does not answer",
                hint=f"that process holds {election.lock_path(path).name}; stop it or wait for it",
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


class StateLink:
    """This process's connection to the owner of ``path`` (or, after a takeover, its own file)."""

    def __init__(self, path: Path, sock: socket.socket | None, open_local: Any) -> None:
        self.path = path
        self.local_db: Database | None = None
        self.generation = 0
        self._open_local = open_local
        self._pool: list[socket.socket] = [sock] if sock is not None else []
        self._mu = threading.Lock()
        self._recover_lock = threading.Lock()
        self._closed = False

    # ------------------------------------------------------------------ connections
    def connection(self) -> socket.socket:
        with self._mu:
            if self._pool:
                return self._pool.pop()
        return election.connect(self.path, timeout=5)

    def give_back(self, sock: socket.socket) -> None:
        with self._mu:
            if not self._closed and len(self._pool) < 8:
                self._pool.append(sock)
                return
        sock.close()

    def request(self, sock: socket.socket, op: str, args: tuple, kwargs: dict) -> Any:
        """One request on ``sock``; raises the owner's error, or OSError/ConnectionLost."""
        wire.send(sock, (op, args, kwargs))
        ok, value = wire.recv(sock)
        if not ok:
            raise wire.decode_error(value)
        return value

    def call(self, op: str, *args: Any, retry: bool = True, **kwargs: Any) -> Any:
        """``op`` on the owner; :class:`Promoted` when this process became the owner meanwhile."""
        while True:
            generation = self.generation
            if self.local_db is not None:
                raise Promoted
            try:
                sock = self.connection()
            except OSError:
                self.recover(generation)
                continue
            try:
                value = self.request(sock, op, args, kwargs)
            except (OSError, EOFError, wire.ConnectionLost):
                sock.close()
                self.recover(generation)
                if not retry:
                    raise StateOwnerLostError(
                        f"the process serving {self.path.parent} stopped during this write",
                        hint="it may or may not have been applied; check, then retry",
                    ) from None
                continue
            except BaseException:
                self.give_back(sock)
                raise
            self.give_back(sock)
            return value

    def recover(self, generation: int) -> None:
        """After a broken connection: reconnect to the new owner, or become it."""
        with self._recover_lock:
            if self.generation != generation or self.local_db is not None or self._closed:
                return
            with self._mu:
                old, self._pool = self._pool, []
            for sock in old:
                with contextlib.suppress(OSError):
                    sock.close()
            db, fresh = elect(self.path, self._open_local, time.monotonic() + ELECTION_TIMEOUT)
            if db is not None:
                self.local_db = db
            elif fresh is not None:
                self.give_back(fresh)
            self.generation += 1

    def close(self) -> None:
        with self._mu:
            self._closed = True
            old, self._pool = self._pool, []
        for sock in old:
            with contextlib.suppress(OSError):
                sock.close()
        if self.local_db is not None:
            self.local_db.close()
