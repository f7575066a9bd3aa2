"""The owner's side: serve the project's state to the project's other processes.

The process that holds the owner lock opens the DuckDB file as before and listens on the socket
from a background thread (so a kernel busy in a cell still serves). Each client connection gets
its own thread and its own DuckDB cursor: a client that hangs holds only its own thread, and
DuckDB's MVCC keeps one client's open transaction from blocking another. While any client is
connected the server holds a reference on the database, so the owner closing its own handles does
not pull the state from under the others; the last client leaving releases it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import socket
import threading
from typing import TYPE_CHECKING, Any

import duckdb

from . import election, wire

if TYPE_CHECKING:
    from ..db import Database
    from .election import OwnerLock

#: Memory methods a client may call on the owner's store (its data API; no callables).
MEMORY_METHODS = frozenset(
    {"add_many", "forget", "get", "search", "list", "events", "stats", "rebuild", "save_index"}
)


class _Conn:
    """One client connection: its socket and its own cursor (transactions span requests)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.cursor: duckdb.DuckDBPyConnection | None = None


class StateServer:
    """Serves one database file; started by the owner, stopped when the file is closed."""

    def __init__(self, db: Database, lock: OwnerLock) -> None:
        self.db = db
        self.lock = lock
        self.path = db.path
        self._listener = election.listen(self.path)
        self._conns: set[socket.socket] = set()
        self._mu = threading.Lock()
        self._objs = threading.RLock()
        self._clients = 0
        self._stopped = False
        self._log: Any = None
        self._project: Any = None
        self._memory: Any = None
        self._thread = threading.Thread(target=self._accept_loop, name="agentcore-state", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ connections
    def _accept_loop(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            try:
                if election.peer_uid(sock) != os.getuid():
                    sock.close()  # another user: refused before a byte is read
                    continue
            except OSError:
                sock.close()
                continue
            threading.Thread(
                target=self._serve, args=(sock,), name="agentcore-state-conn", daemon=True
            ).start()

    def _join(self, sock: socket.socket) -> bool:
        from ..db import _registry_lock

        with _registry_lock, self._mu:
            if self._stopped:
                return False
            self._conns.add(sock)
            self._clients += 1
            if self._clients == 1:
                self.db._refs += 1  # the clients' reference: the file stays open while they are here
            return True

    def _leave(self, sock: socket.socket) -> None:
        from ..db import _registry_lock

        with _registry_lock, self._mu:
            self._conns.discard(sock)
            self._clients -= 1
            last = self._clients == 0 and not self._stopped
        if last:
            self._release_objects(only_if_idle=True)
            with self._mu:
                if self._clients:
                    return
            self.db.close()  # may be the last reference: then the file closes and serving stops

    def _serve(self, sock: socket.socket) -> None:
        if not self._join(sock):
            sock.close()
            return
        conn = _Conn(sock)
        try:
            while True:
                op, args, kwargs = wire.recv(sock)
                try:
                    reply: tuple[bool, Any] = (True, self._dispatch(conn, op, args, kwargs))
                except Exception as exc:
                    reply = (False, wire.encode_error(exc))
                try:
                    wire.send(sock, reply)
                except (pickle.PicklingError, TypeError, AttributeError) as exc:  # a value that cannot travel
                    wire.send(sock, (False, wire.encode_error(exc)))
        except (OSError, EOFError, wire.ConnectionLost):
            pass
        finally:
            if conn.cursor is not None:
                with contextlib.suppress(Exception):
                    conn.cursor.close()
            with contextlib.suppress(OSError):
                sock.close()
            self._leave(sock)

    # ------------------------------------------------------------------ requests
    def _dispatch(self, conn: _Conn, op: str, args: tuple, kwargs: dict) -> Any:
        if op.startswith("sql."):
            return self._sql(conn, op[4:], *args)
        if op.startswith("log."):
            return self._log_op(op[4:], *args, **kwargs)
        if op == "mem.open":
            return self._memory_info(*args)
        if op == "mem.call":
            method, margs, mkwargs = args
            if method not in MEMORY_METHODS:
                raise ValueError(f"memory method {method!r} is not served")
            return getattr(self._memory_store(), method)(*margs, **mkwargs)
        if op == "ping":
            return os.getpid()
        raise ValueError(f"unknown state request {op!r}")

    def _sql(self, conn: _Conn, what: str, *args: Any) -> Any:
        if what == "schema":
            self.db.ensure_schema(*args)
            return None
        if conn.cursor is None:
            conn.cursor = self.db.cursor()
        cur = conn.cursor
        if what == "register":
            cur.register(args[0], args[1])
            return None
        if what == "unregister":
            cur.unregister(args[0])
            return None
        if what == "executemany":
            cur.executemany(args[0], args[1])
        else:
            cur.execute(args[0], args[1])
        description = cur.description
        rows = cur.fetchall() if description is not None else []
        # column types are DuckDB objects that do not pickle: send their names
        return rows, None if description is None else [(d[0], str(d[1]), *d[2:]) for d in description]

    def _event_log(self) -> Any:
        """This process's writer for the file (never through ``Database.open``: the registry entry
        may be a handle on this very server, after a takeover or once the owner closed its own)."""
        from .eventlog import core_for

        with self._objs:
            if self._log is None:
                self._log = core_for(self.db)
            return self._log

    def _log_op(self, what: str, *args: Any, **kwargs: Any) -> Any:
        from .eventlog import not_committed

        log = self._event_log()
        if what == "append":
            events, resent = args
            # A resent batch: the previous owner may have committed part of it before it died.
            fresh = {id(e) for e in (not_committed(self.db, log, events) if resent else events)}
            for e in events:
                if id(e) in fresh:
                    log.append(e)
            log.flush()
            return [e.seq for e in events]
        if what == "events":
            return log.events(*args, **kwargs)
        if what == "runs":
            return log.runs()
        if what == "count":
            return log.count()
        if what in ("flush", "open"):
            log.flush()
            return None
        raise ValueError(f"unknown event log request {what!r}")

    def _memory_store(self, embedder: str | None = None, reembed: bool = False) -> Any:
        from ..memory.store import Memory
        from ..project import Project
        from .eventlog import _incref, core_for

        with self._objs:
            if self._memory is None:
                project = Project(self.path.parent)
                project._database = _incref(self.db)  # this file, not a registry lookup (see _event_log)
                project._event_log = core_for(self.db)
                self._project = project
                self._memory = Memory.shared(project, embedder=embedder, reembed=reembed)
            return self._memory

    def _memory_info(self, embedder: str | None, reembed: bool) -> dict[str, Any]:
        mem = self._memory_store(embedder, reembed)
        return {"embedder": mem.embedder.name, "dim": mem.dim, "index_path": str(mem.index_path)}

    # ------------------------------------------------------------------ lifecycle
    def _release_objects(self, *, only_if_idle: bool = False) -> None:
        with self._objs:
            if only_if_idle and self._clients:
                return
            memory, project, log = self._memory, self._project, self._log
            self._memory = self._project = self._log = None
        for obj in (memory, project, log):
            if obj is not None:
                with contextlib.suppress(Exception):
                    obj.close()

    def stop(self) -> None:
        """Stop serving (the file is about to close): clients see EOF and elect a new owner."""
        with self._mu:
            if self._stopped:
                return
            self._stopped = True
            conns = list(self._conns)
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._listener.close()
        with contextlib.suppress(OSError):
            election.socket_path(self.path).unlink()
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def release(self) -> None:
        """After the file is closed: let another process become the owner."""
        self.lock.release()
