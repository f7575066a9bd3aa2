"""The project's DuckDB file, shared by the event log, memory and the tool registry.

DuckDB lets one process write a file at a time. Inside a process every component shares one
:class:`Database` per path (cursors per thread). The first agentcore process to open a file owns it
and serves the project's other processes, which get a client handle of the same shape
(``agentcore_nb/state/``); a program outside agentcore-nb holding the file is reported as
:class:`StoreLockedError` naming its PID. Each component keeps its own schema version, and a file
written by a newer agentcore-nb is refused rather than misread. A damaged file (empty, garbage,
truncated, a bad checksum, a damaged write-ahead log) is :class:`DatabaseDamagedError`: one line
naming the file and what to do.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from .errors import DatabaseDamagedError, EventLogError, StoreLockedError

_LOCK_RE = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")
_registry: dict[tuple[str, bool], Database] = {}
_registry_lock = threading.Lock()


#: DuckDB's three file headers (one main, two database headers) before the first block.
_HEADERS = 3 * 4096
_BLOCK_RE = re.compile(r"in block at location (\d+)")


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def damage_error(path: Path, exc: BaseException) -> EventLogError | None:
    """The one-line error for a damaged database file or write-ahead log, or None when ``exc`` is
    not about damage. Names the file and says what to do; never a DuckDB traceback."""
    text = str(exc)
    first = text.splitlines()[0] if text else exc.__class__.__name__
    if "WAL" in text and ("Corrupt" in text or "replaying" in text or "checksum" in text):
        wal = _wal(path)
        return DatabaseDamagedError(
            f"{wal} is not a readable DuckDB write-ahead log (damaged: {_reason(text, first)})",
            hint=f"move it away to open {path.name} as of its last checkpoint (later commits are "
            "lost), or restore both files from a backup",
        )
    if "not a valid DuckDB database" in text:
        size = _size(path)
        what = "empty (0 bytes)" if size == 0 else "not a DuckDB file"
        return DatabaseDamagedError(f"{path} is not a readable DuckDB database ({what})", hint=_MOVE_AWAY)
    if "Could not read enough bytes" in text:
        return DatabaseDamagedError(
            f"{path} is not a readable DuckDB database (truncated: {_size(path)} bytes)", hint=_MOVE_AWAY
        )
    if "Corrupt" in text or "corrupt" in text or "checksum" in text:
        return DatabaseDamagedError(
            f"{path} is not a readable DuckDB database (damaged: {_reason(text, first)})", hint=_MOVE_AWAY
        )
    return None


_MOVE_AWAY = "move it away to start a fresh store, or restore it from a backup"


def _reason(text: str, first: str) -> str:
    if "checksum" in text:
        block = _BLOCK_RE.search(text)
        where = f" in block at byte {block[1]}" if block else ""
        pos = re.search(r"entry at byte position (\d+)", text)
        where = where or (f" in the entry at byte {pos[1]}" if pos else "")
        return f"checksum mismatch{where}"
    return first[:160]


def _open_error(path: Path, exc: Exception) -> Exception:
    text = str(exc)
    match = _LOCK_RE.search(text)
    if match:
        return StoreLockedError(
            f"store {path} is in use by PID {match['pid']} ({Path(match['exe']).name})",
            hint="stop that process, wait for it to finish, or set AGENTCORE_HOME to another directory",
        )
    damaged = damage_error(path, exc)
    if damaged is not None:
        return damaged
    first = text.splitlines()[0] if text else exc.__class__.__name__
    return EventLogError(f"cannot open {path}: {first}")


def _check_size(path: Path, con: duckdb.DuckDBPyConnection) -> None:
    """A file shorter than its used blocks is truncated: say so now, not at the first read of a
    missing block (DuckDB reads blocks lazily, deep inside a later query)."""
    row = con.execute("PRAGMA database_size").fetchone()
    size = _size(path)
    if row is None or size is None:
        return
    block_size, used = int(row[2] or 0), int(row[4] or 0)
    needed = _HEADERS + block_size * used if used else 0
    if size < needed:
        raise DatabaseDamagedError(
            f"{path} is not a readable DuckDB database (truncated: {size} bytes, its blocks need at "
            f"least {needed})",
            hint=_MOVE_AWAY,
        )


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
        try:
            _check_size(path, self.con)
            if not read_only:
                self.con.execute(
                    "CREATE TABLE IF NOT EXISTS agentcore_schema "
                    "(component VARCHAR PRIMARY KEY, version INTEGER NOT NULL)"
                )
        except BaseException as exc:
            self.con.close()
            if isinstance(exc, duckdb.Error):
                raise _open_error(path, exc) from None
            raise

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
        with self.lock, self.damage_as_error():
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
        with self.lock, self.damage_as_error():
            return self.con.execute(sql, params).fetchall()

    @contextmanager
    def damage_as_error(self) -> Iterator[None]:
        """Turn DuckDB's report of a damaged file met mid-query into the one-line error."""
        try:
            yield
        except duckdb.Error as exc:
            damaged = damage_error(self.path, exc)
            if damaged is None:
                raise
            raise damaged from None

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
