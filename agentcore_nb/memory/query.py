"""The SQL conditions of a memory search or listing (namespace, metadata filters, time range)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .records import MemoryStoreError, check_namespace, filter_sql


def where_clause(db: Any, namespace: str | None, filters: Any, since: float | None, until: float | None,
                 *, strict: bool, known: Callable[[], list[str]]) -> tuple[list[str], list[Any]]:  # fmt: skip
    """Conditions on ``memory_records`` (live records only); ``strict`` refuses an empty namespace."""
    where: list[str] = ["NOT tombstone"]
    params: list[Any] = []
    if namespace is not None:
        check_namespace(namespace, prefix_ok=True)
        if namespace.endswith("/"):
            where.append("(starts_with(namespace, ?) OR namespace = ?)")
            params += [namespace, namespace[:-1]]
        else:
            where.append("namespace = ?")
            params.append(namespace)
        if strict and not db.execute(
            "SELECT 1 FROM memory_records WHERE " + " AND ".join(where[1:]) + " LIMIT 1", params
        ):
            names = ", ".join(known()) or "none yet"
            raise MemoryStoreError(f"unknown namespace {namespace!r}", hint=f"known namespaces: {names}")
    for name, value in (("since", since), ("until", until)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise MemoryStoreError(f"{name} must be a Unix timestamp (seconds), got {value!r}")
    if since is not None:
        where.append("created >= ?")
        params.append(since)
    if until is not None:
        where.append("created <= ?")
        params.append(until)
    more, more_params = filter_sql(filters)
    return where + more, params + more_params
