"""The append-only event log: the source of truth every other view is built from."""

from __future__ import annotations

from pathlib import Path

from .base import EventLog, RunSummary, summarize_runs
from .duckdb import DuckDBEventLog
from .memory import InMemoryEventLog


def open_event_log(path: str | Path | None = None) -> DuckDBEventLog:
    """The project's durable log (``$AGENTCORE_HOME/agentcore.duckdb`` unless ``path`` is given)."""
    return DuckDBEventLog(path)


__all__ = [
    "DuckDBEventLog",
    "EventLog",
    "InMemoryEventLog",
    "RunSummary",
    "open_event_log",
    "summarize_runs",
]
