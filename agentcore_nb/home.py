"""Where local state lives: ``$AGENTCORE_HOME`` if set, else ``.agentcore/`` in the working directory."""

from __future__ import annotations

import os
from pathlib import Path

DB_FILENAME = "agentcore.duckdb"


def state_dir(create: bool = True) -> Path:
    """The project state directory (event log, memory, tool registry, keys)."""
    env = os.environ.get("AGENTCORE_HOME")
    path = Path(env).expanduser() if env else Path.cwd() / ".agentcore"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def database_path(home: str | os.PathLike[str] | None = None) -> Path:
    """The DuckDB file shared by the event log, memory and the gateway registry."""
    base = Path(home) if home is not None else state_dir()
    base.mkdir(parents=True, exist_ok=True)
    return base / DB_FILENAME
