"""One project, many processes: the owner of the state serves it to the others (docs/state.md).

The first process to open a project's DuckDB file takes the owner lock, opens the file in-process
as always, and serves the file's other users over a Unix socket beside it. Later processes get
client handles with the same interfaces (:class:`~agentcore_nb.db.Database`, the event log,
``Memory``); when the owner dies, a client takes over. Only state moves: tools, models and
sandboxes run in the process that calls them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .client import ELECTION_TIMEOUT, StateLink, StateOwnerLostError, StateUnavailableError, elect


def open_database(cls: Any, path: Path, read_only: bool = False) -> Any:
    """The owner's own :class:`Database` (serving the others), or a client handle on the owner's."""
    from .database import RemoteDatabase
    from .server import StateServer

    def open_local(lock: Any) -> Any:
        db = cls(path, read_only=read_only)
        try:
            db.state = StateServer(db, lock)
        except BaseException:
            db.con.close()
            raise
        return db

    db, sock = elect(path, open_local, time.monotonic() + ELECTION_TIMEOUT)
    if db is not None:
        return db
    from ..db import Database

    def open_plain(lock: Any) -> Any:
        local = Database(path)
        try:
            local.state = StateServer(local, lock)
        except BaseException:
            local.con.close()
            raise
        local._refs = 1
        return local

    return RemoteDatabase(path, StateLink(path, sock, open_plain))


def is_client(project: Any) -> bool:
    """True when ``project``'s file is owned by another process (or was, before a takeover)."""
    return getattr(project.database, "link", None) is not None


__all__ = [
    "StateLink",
    "StateOwnerLostError",
    "StateUnavailableError",
    "is_client",
    "open_database",
]
