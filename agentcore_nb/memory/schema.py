"""The memory tables in the project's DuckDB file and the conversions between rows, events and
records (kept apart from the store's logic)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
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


@dataclass(slots=True)
class Adds:
    """The records some memory events add, as columns in label order (a batch event is many)."""

    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    actors: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    metadata: list[dict[str, Any]] = field(default_factory=list)
    created: list[float] = field(default_factory=list)
    block: list[int] = field(default_factory=list)  # -1: no stored vector (embedded on replay)
    pos: list[int] = field(default_factory=list)
    seq: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def record(self, i: int) -> MemoryRecord:
        return MemoryRecord(self.ids[i], self.texts[i], self.namespaces[i], self.actors[i], self.sessions[i],
                            self.metadata[i], self.created[i], self.created[i])  # fmt: skip


def adds_of(events: Iterable[MemoryUpdateEvent]) -> Adds:
    """The records the ``add`` events among ``events`` add, in order."""
    out = Adds()
    for e in events:
        if e.op != "add":
            continue
        b = e.batch
        if b:
            n = int(b["count"])
            block, first = b.get("vector") or (-1, 0)
            out.ids += b["ids"]
            out.texts += b["texts"]
            out.actors += b["actors"]
            out.metadata += b["metadata"]
            out.namespaces += [e.namespace] * n
            out.sessions += [b.get("session", "")] * n
            out.created += [b["created"]] * n
            out.block += [block] * n
            out.pos += range(first, first + n)
            out.seq += [e.seq] * n
            continue
        r = e.record
        block, pos = r.get("vector") or (-1, 0)
        out.ids.append(r["id"])
        out.texts.append(r["text"])
        out.actors.append(r.get("actor", ""))
        out.metadata.append(r.get("metadata") or {})
        out.namespaces.append(e.namespace)
        out.sessions.append(r.get("session", ""))
        out.created.append(r["created"])
        out.block.append(block)
        out.pos.append(pos)
        out.seq.append(e.seq)
    return out


def expand(event: MemoryUpdateEvent) -> list[MemoryUpdateEvent]:
    """A batch event as one event per record (as ``Memory.events()`` shows the history)."""
    if not event.batch:
        return [event]
    adds = adds_of([event])
    out = []
    for i in range(len(adds)):
        record = {"id": adds.ids[i], "text": adds.texts[i], "actor": adds.actors[i], "session": adds.sessions[i],
                  "metadata": adds.metadata[i], "created": adds.created[i], "vector": [adds.block[i], adds.pos[i]]}  # fmt: skip
        one = MemoryUpdateEvent(op="add", namespace=event.namespace, record_id=adds.ids[i], record=record)
        for name in ("run_id", "session_id", "node_id", "trace_id", "span_id", "ts", "seq"):
            setattr(one, name, getattr(event, name))
        out.append(one)
    return out


def record_count(events: Iterable[MemoryUpdateEvent]) -> int:
    """Records added or forgotten by ``events``."""
    return sum(int(e.batch["count"]) if e.batch else 1 for e in events)


def record_arrays(adds: Adds, labels: list[int]) -> dict[str, np.ndarray]:
    n = len(adds)

    def col(values: Iterable[Any], dtype: Any = object) -> np.ndarray:
        return np.fromiter(values, dtype=dtype, count=n)

    texts: dict[int, str] = {}  # add_many shares one metadata dict among its records: dump it once

    def dumps(meta: dict[str, Any]) -> str:
        text = texts.get(id(meta))  # every dict stays alive in ``adds``: ids are not reused here
        if text is None:
            text = texts[id(meta)] = json.dumps(meta)
        return text

    return {
        "id": col(adds.ids),
        "label": np.asarray(labels, dtype=np.int64),
        "text": col(adds.texts),
        "namespace": col(adds.namespaces),
        "actor": col(adds.actors),
        "session": col(adds.sessions),
        "metadata": col(dumps(m) for m in adds.metadata),
        "created": col(adds.created, np.float64),
        "block": col(adds.block, np.int64),
        "pos": col(adds.pos, np.int32),
        "seq": col(adds.seq, np.int64),
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
