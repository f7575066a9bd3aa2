"""The memory tables in the project's DuckDB file and the conversions between rows, events and
records (kept apart from the store's logic)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..events import MemoryUpdateEvent
from .records import MemoryRecord

SCHEMA_VERSION = 2  # 2: memory_positions (the history chain an index is checked against)
DDL = [
    """CREATE TABLE IF NOT EXISTS memory_records (
        id VARCHAR NOT NULL, label BIGINT NOT NULL, text VARCHAR NOT NULL, namespace VARCHAR NOT NULL,
        actor VARCHAR, session VARCHAR, metadata JSON, created DOUBLE, updated DOUBLE,
        tombstone BOOLEAN NOT NULL DEFAULT false, block BIGINT NOT NULL, pos INTEGER NOT NULL,
        seq BIGINT NOT NULL)""",
    # Vectors are written once, a block per add_many, before the events that point at them.
    "CREATE TABLE IF NOT EXISTS memory_vectors (block BIGINT NOT NULL, dim INTEGER NOT NULL, data BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS memory_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
    # One row per projection step: the hash chain over memory events up to seq (provenance.py).
    "CREATE TABLE IF NOT EXISTS memory_positions (seq BIGINT PRIMARY KEY, hash VARCHAR NOT NULL)",
]
COLS = "id, label, text, namespace, actor, session, metadata, created, updated, tombstone"
#: Inserting from NumPy arrays is 35x quicker here than unnesting Python lists.
INSERT_FROM_ARRAYS = (
    "INSERT INTO memory_records SELECT id, label, text, namespace, actor, session, metadata::JSON, "
    "created, created, false, block, pos, seq FROM memory_batch"
)


def record_arrays(adds: list[MemoryUpdateEvent], labels: list[int]) -> dict[str, np.ndarray]:
    def col(values: Iterable[Any], dtype: Any = object) -> np.ndarray:
        return np.fromiter(values, dtype=dtype, count=len(adds))

    return {
        "id": col(e.record["id"] for e in adds),
        "label": np.asarray(labels, dtype=np.int64),
        "text": col(e.record["text"] for e in adds),
        "namespace": col(e.namespace for e in adds),
        "actor": col(e.record.get("actor", "") for e in adds),
        "session": col(e.record.get("session", "") for e in adds),
        "metadata": col(json.dumps(e.record.get("metadata") or {}) for e in adds),
        "created": col((e.record["created"] for e in adds), np.float64),
        "block": col((e.record["vector"][0] for e in adds), np.int64),
        "pos": col((e.record["vector"][1] for e in adds), np.int32),
        "seq": col((e.seq for e in adds), np.int64),
    }


def new_ids(n: int) -> Any:
    """``n`` random 128-bit hex ids from one ``os.urandom`` call (uuid4 each costs 10-60 us here)."""
    raw = os.urandom(16 * n).hex()
    return (raw[i : i + 32] for i in range(0, 32 * n, 32))


def record_of(row: tuple) -> MemoryRecord:
    return MemoryRecord(
        id=row[0],
        text=row[2],
        namespace=row[3],
        actor=row[4] or "",
        session=row[5] or "",
        metadata=json.loads(row[6]) if row[6] else {},
        created=row[7],
        updated=row[8],
        tombstone=bool(row[9]),
    )


PROGRESS_MIN = 10_000


def progress(total: int, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="rec", disable=total < PROGRESS_MIN, leave=False)
