"""Memory records, search hits, and the checks every write and filter goes through."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import AgentcoreError

NAMESPACE_RE = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*/?$")
_META_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")
_OPS = {"$eq", "$ne", "$in", "$gt", "$gte", "$lt", "$lte"}


class MemoryStoreError(AgentcoreError):
    """A memory operation was refused (bad input, mismatched embedder, unusable store)."""


@dataclass(slots=True)
class MemoryRecord:
    id: str
    text: str
    namespace: str
    actor: str = ""
    session: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0
    updated: float = 0.0
    tombstone: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class MemoryHit:
    record: MemoryRecord
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"score": round(self.score, 4), **self.record.to_dict()}


def check_namespace(namespace: Any, *, prefix_ok: bool = False) -> str:
    if not isinstance(namespace, str) or not NAMESPACE_RE.match(namespace):
        raise MemoryStoreError(
            f"invalid namespace {namespace!r}",
            hint="use letters, digits, _ . - separated by '/', e.g. support/refunds",
        )
    if namespace.endswith("/") and not prefix_ok:
        raise MemoryStoreError(f"namespace {namespace!r} ends with '/': that form is only for searching")
    return namespace


def check_text(text: Any) -> str:
    if not isinstance(text, str):
        raise MemoryStoreError(f"memory text must be a string, got {type(text).__name__}")
    if not text.strip():
        raise MemoryStoreError("memory text is empty", hint="add a sentence worth remembering")
    return text


def check_metadata(metadata: Any) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise MemoryStoreError(f"metadata must be an object, got {type(metadata).__name__}")
    try:
        json.dumps(metadata)
    except (TypeError, ValueError) as exc:
        raise MemoryStoreError(f"metadata is not JSON-serialisable: {exc}") from None
    return metadata


def filter_sql(filters: Any) -> tuple[list[str], list[Any]]:
    """``{"key": value}``, ``{"key": {"$in": [...]}}``, ``$ne``, ``$gt`` ... -> SQL conditions."""
    if filters is None:
        return [], []
    if not isinstance(filters, dict):
        raise MemoryStoreError(f"filters must be an object like {{'kind': 'refund'}}, got {filters!r}")
    where: list[str] = []
    params: list[Any] = []
    for key, cond in filters.items():
        if not isinstance(key, str) or not _META_KEY.match(key):
            raise MemoryStoreError(f"filter key {key!r} is not a plain metadata key")
        path = f'$."{key}"'
        if not isinstance(cond, dict):
            cond = {"$eq": cond}
        for op, value in cond.items():
            if op not in _OPS:
                raise MemoryStoreError(
                    f"filter {key}: unknown operator {op!r}", hint=f"use one of {', '.join(sorted(_OPS))}"
                )
            if op in ("$eq", "$ne"):
                sign = "=" if op == "$eq" else "IS DISTINCT FROM"
                where.append(f"json_extract(metadata, ?)::VARCHAR {sign} ?")
                params += [path, json.dumps(value, separators=(",", ":"))]
            elif op == "$in":
                if not isinstance(value, list) or not value:
                    raise MemoryStoreError(f"filter {key}: $in needs a non-empty list")
                where.append("json_extract(metadata, ?)::VARCHAR IN (" + ",".join("?" * len(value)) + ")")
                params += [path, *(json.dumps(v, separators=(",", ":")) for v in value)]
            else:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise MemoryStoreError(f"filter {key}: {op} needs a number, got {value!r}")
                sign = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
                where.append(f"TRY_CAST(json_extract_string(metadata, ?) AS DOUBLE) {sign} ?")
                params += [path, float(value)]
    return where, params
