"""A client's handle on the project's DuckDB file: SQL goes to the owner, rows come back.

Components keep using the :class:`~agentcore_nb.db.Database` shape (``execute``, ``cursor``,
``ensure_schema``, ``lock``, ``con``), so the tool registry and any later table need no change.
After this process takes the state over, every call goes to its own, now local, file.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from pathlib import Path
from typing import Any

from ..db import Database, _registry, _registry_lock
from . import wire
from .client import Promoted, StateLink, StateOwnerLostError

_READ = re.compile(r"^\s*(SELECT|WITH|SHOW|DESCRIBE|PRAGMA|EXPLAIN)\b", re.IGNORECASE)


class RemoteCursor:
    """A DuckDB-cursor look-alike on its own connection (so transactions span statements)."""

    def __init__(self, link: StateLink) -> None:
        self.link = link
        self._sock: socket.socket | None = link.connection()
        self._rows: list[tuple] = []
        self.description: Any = None

    def _request(self, op: str, *args: Any) -> Any:
        if self._sock is None:
            raise StateOwnerLostError("this cursor is closed")
        try:
            return self.link.request(self._sock, op, args, {})
        except (OSError, EOFError, wire.ConnectionLost):
            self.close()
            self.link.recover(self.link.generation)
            raise StateOwnerLostError(
                f"the process serving {self.link.path.parent} stopped during this statement",
                hint="it may or may not have been applied; check, then retry",
            ) from None

    def execute(self, sql: str, params: Any = None) -> RemoteCursor:
        self._rows, self.description = self._request("sql.execute", sql, params)
        return self

    def executemany(self, sql: str, params: Any) -> RemoteCursor:
        self._rows, self.description = self._request("sql.executemany", sql, params)
        return self

    def fetchall(self) -> list[tuple]:
        rows, self._rows = self._rows, []
        return rows

    def fetchone(self) -> tuple | None:
        return self._rows.pop(0) if self._rows else None

    def register(self, name: str, data: Any) -> RemoteCursor:
        self._request("sql.register", name, data)
        return self

    def unregister(self, name: str) -> RemoteCursor:
        self._request("sql.unregister", name)
        return self

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def __del__(self) -> None:
        self.close()


class _Con:
    """``db.con`` of a client: ``execute(...)`` on the owner, results read as from a cursor."""

    def __init__(self, db: RemoteDatabase) -> None:
        self._db = db

    def execute(self, sql: str, params: Any = None) -> RemoteCursor:
        cur = RemoteCursor.__new__(RemoteCursor)
        cur.link, cur._sock, cur.description = self._db.link, None, None
        cur._rows = self._db.execute(sql, params)
        return cur


class RemoteDatabase(Database):
    """The project's file as seen from a process that does not own it."""

    def __init__(self, path: Path, link: StateLink) -> None:
        self.path = path
        self.read_only = False
        self.state = None
        self._refs = 0
        self._lock = threading.RLock()
        self.link = link

    @property
    def lock(self) -> Any:  # type: ignore[override]
        local = self.link.local_db
        return local.lock if local is not None else self._lock

    @property
    def con(self) -> Any:  # type: ignore[override]
        local = self.link.local_db
        return local.con if local is not None else _Con(self)

    @property
    def remote(self) -> bool:
        return self.link.local_db is None

    def cursor(self) -> Any:
        while True:
            generation = self.link.generation
            local = self.link.local_db
            if local is not None:
                return local.cursor()
            try:
                return RemoteCursor(self.link)
            except OSError:  # the owner is gone: elect (maybe this process), then try again
                self.link.recover(generation)

    def execute(self, sql: str, params: Any = None) -> Any:
        while True:
            local = self.link.local_db
            if local is not None:
                return local.execute(sql, params)
            try:
                rows, _ = self.link.call("sql.execute", sql, params, retry=bool(_READ.match(sql)))
                return rows
            except Promoted:
                continue

    def ensure_schema(self, component: str, version: int, ddl: list[str]) -> None:
        while True:
            local = self.link.local_db
            if local is not None:
                return local.ensure_schema(component, version, ddl)
            try:
                return self.link.call("sql.schema", component, version, ddl)  # type: ignore[no-any-return]
            except Promoted:
                continue

    def close(self) -> None:
        with _registry_lock:
            self._refs -= 1
            if self._refs > 0:
                return
            key = (str(self.path), self.read_only)
            if _registry.get(key) is self:
                del _registry[key]
        self.link.close()
