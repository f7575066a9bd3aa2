"""Which store and which point of its history an index reflects.

Every projection step (``Memory._apply``) extends a hash chain over the memory events it applied
and records ``(seq, hash)`` in ``memory_positions``; the store has a random ``store_id`` in
``memory_meta``. A saved index names the store id and the ``(seq, hash)`` it reflects. On open it is
trusted only if the id is this store's and that position is in this database's chain (so the index
reflects a prefix of this store's history: top it up); otherwise (another store's index copied in, a
database restored from an older backup beside a newer index, or a history that diverged after a
restore) it is rebuilt.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from ..events import MemoryUpdateEvent


def new_store_id() -> str:
    return uuid.uuid4().hex


def extend(previous: str, events: list[MemoryUpdateEvent]) -> str:
    """The chain hash after ``events`` (their seq, op and record ids)."""
    h = hashlib.sha256(previous.encode())
    h.update("|".join(f"{e.seq}:{e.op}:{','.join(e.batch['ids']) if e.batch else e.record_id}"
                      for e in events).encode())  # fmt: skip
    return h.hexdigest()


def mistrust(side: dict[str, Any], *, db: Any, store_id: str, embedder: str) -> str:
    """Why a loaded index (its sidecar) must not be trusted here; "" when it reflects our history."""
    if side.get("embedder") != embedder:
        return f"the index was built with embedder {side.get('embedder')!r}, not {embedder!r}"
    if not side.get("store_id"):
        return "the index was saved by an older version, without the store's id"
    if side.get("store_id") != store_id:
        theirs = side["store_id"]
        return f"the index belongs to another store (its store id is {theirs}, this store's is {store_id})"
    seq, chain = side.get("seq"), side.get("hash")
    if not isinstance(seq, int):
        return "the index sidecar names no history position"
    if seq >= 0:
        rows = db.execute("SELECT hash FROM memory_positions WHERE seq = ?", [seq])
        if not rows or rows[0][0] != chain:
            return (
                f"the index reflects memory history up to event {seq}, which this database does not "
                "have (a database restored from an older backup, or a history that diverged)"
            )
    covered = int(db.execute("SELECT count(*) FROM memory_records WHERE seq <= ?", [seq])[0][0])
    if covered != side.get("count"):
        return f"the index holds {side.get('count')} records where the history at event {seq} has {covered}"
    return ""
