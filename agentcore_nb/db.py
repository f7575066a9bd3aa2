"""The project's DuckDB file, shared by the event log, memory and the tool registry.

DuckDB lets one process write a file at a time. Inside a process every component shares one
:class:`Database` per path (cursors per thread). The first agentcore process to open a file owns it
and serves the project's other processes, which get a client handle of the same shape
(``agentcore_nb/state/``); a program outside agentcore-nb holding the file is reported as
:class:`StoreLockedError` naming its PID. Each component keeps its own schema version, and a file
written by a newer agentcore-nb is refused rather than misread.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import duckdb

from .errors import EventLogError, StoreLockedError

_LOCK_RE = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")
_registry: dict[tuple[str, bool], Database] = {}
_registry_lock = threading.Lock()


def _open_error(path: Path, exc: Exception) -> Exception:
    text = str(exc)
    match = _LOCK_RE.search(text)
    if match:
        return StoreLockedError(
            f"store {path} is in use by PID {match['pid']} ({Path(match['exe']).name})",
            hint="stop that process, wait for it to finish, or set AGENTCORE_HOME to another directory",
        )
    first = text.splitlines()[0] if text else exc.__class__.__name__
    if "not a valid DuckDB database" in text or "Corrupt" in text or "corrupt" in text:
        return EventLogError(
            f"{path} is not a readable DuckDB database ({first})",
            hint="move the file away to start a fresh store",
        )
    return EventLogError(f"cannot open {path}: {first}")


class Database:
    """A process-wide handle on one DuckDB file; use :meth:`open`, not the constructor."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self._refs = 0
        self.lock = threading.RLock()
        self.state: Any = None  # the owner's state server (agentcore_nb/state/), once serving
        try:
            self.con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            raise _open_error(path, exc) from None
        if not read_only:
            self.con.execute(
                "CREATE TABLE IF NOT EXISTS agentcore_schema "
                "(component VARCHAR PRIMARY KEY, version INTEGER NOT NULL)"
            )

    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False) -> Database:
        """Share one handle per (path, mode) inside this process."""
        resolved = Path(path).resolve()
        key = (str(resolved), read_only)
        with _registry_lock:
            db = _registry.get(key)
            if db is None:
                from .state import open_database  # owner of the file, or a client of its owner

                db = open_database(cls, resolved, read_only)
                _registry[key] = db
            db._refs += 1
            return db

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection for one thread's use (DuckDB connections are not shared across threads)."""
        return self.con.cursor()

    def ensure_schema(self, component: str, version: int, ddl: list[str]) -> None:
        """Create a component's tables, or refuse a file written by a newer schema version."""
        with self.lock:
            row = self.con.execute(
                "SELECT version FROM agentcore_schema WHERE component = ?", [component]
            ).fetchone()
            if row is not None and row[0] > version:
                raise EventLogError(
                    f"{self.path}: the {component} tables have schema version {row[0]}, newer than "
                    f"this agentcore-nb supports ({version})",
                    hint="upgrade agentcore-nb or point AGENTCORE_HOME elsewhere",
                )
            if row is not None and row[0] == version:
                return
            if self.read_only:
                raise EventLogError(f"{self.path}: {component} tables are missing (read-only)")
            self.con.execute("BEGIN")
            try:
                for statement in ddl:
                    self.con.execute(statement)
                self.con.execute(
                    "INSERT OR REPLACE INTO agentcore_schema VALUES (?, ?)", [component, version]
                )
                self.con.execute("COMMIT")
            except Exception:
                self.con.execute("ROLLBACK")
                raise

    def execute(self, sql: str, params: Any = None) -> Any:
        with self.lock:
            return self.con.execute(sql, params).fetchall()

    def close(self) -> None:
        """Release one reference; the file is closed when the last user closes it."""
        with _registry_lock:
            self._refs -= 1
            if self._refs > 0:
                return
            if _registry.get((str(self.path), self.read_only)) is self:
                del _registry[(str(self.path), self.read_only)]
        if self.state is not None:
            self.state.stop()  # clients reconnect and elect the next owner once the lock is free
        with self.lock:
            try:
                self.con.close()
            except duckdb.Error:
                pass
        if self.state is not None:
            self.state.release()
