"""The write path: ``add_many``'s items checked and committed as batch events, and memory events
projected into the records table and the index.

One ``MemoryUpdateEvent`` per ``add_many`` call, namespace and session (a single record keeps the
one-record form, ``record``; several go in ``batch``, as columns): an event per record (an event
object, its JSON and its row each) was about half the CPU ingest cost besides the index (3.1-3.6 s
per 100,000 records here, 1.7-1.9 s with one event). The vectors are written first, as one
block the events point at; the index build runs on its own thread meanwhile (hnswlib releases the
GIL); ``apply`` then projects the committed events (also on replay: ``Memory._catch_up``/``rebuild``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..authz import authorize
from ..events import MemoryUpdateEvent
from ..runtime.emitting import emit as emit_event
from .indexing import index_all
from .provenance import extend
from .records import MemoryRecord, MemoryStoreError, check_metadata, check_namespace, check_text
from .schema import INSERT_FROM_ARRAYS, Adds, adds_of, new_ids, record_arrays, record_count
from .vectors import embed_all, vectors_for, write_block

if TYPE_CHECKING:
    from .store import Memory


@dataclass(slots=True)
class Items:
    """The checked items of one ``add_many`` in label order: grouped by (namespace, session)."""

    adds: Adds
    groups: list[tuple[int, int]]  # [lo, hi) of each group: one event each
    order: np.ndarray | None  # the input position of each record (None: the input's order)

    def records(self) -> list[MemoryRecord]:
        """The new records in the caller's order."""
        a = self.adds
        made = list(map(MemoryRecord, a.ids, a.texts, a.namespaces, a.actors, a.sessions, a.metadata, a.created,
                        a.created))  # fmt: skip
        if self.order is None:
            return made
        out: list[MemoryRecord] = made[:]
        for i, at in enumerate(self.order.tolist()):
            out[at] = made[i]
        return out


def check_items(items: list[str | Mapping[str, Any]], namespace: str, actor: str | None, session: str | None,
                metadata: dict[str, Any] | None, now: float) -> Items:  # fmt: skip
    """Every item checked (strings, or dicts with ``text`` and any of the keyword fields)."""
    n = len(items)
    if n and all(type(item) is str for item in items):  # the bulk case: columns at once, one group
        texts: list[str] = items  # type: ignore[assignment]
        if not all(map(str.strip, texts)):
            for text in texts:
                check_text(text)  # the one that is empty, in the usual words
        shared = check_metadata(metadata)
        adds = Adds(ids=list(new_ids(n)), texts=list(texts), namespaces=[check_namespace(namespace)] * n,
                    actors=[actor or ""] * n, sessions=[session or ""] * n, metadata=[shared] * n,
                    created=[now] * n)  # fmt: skip
        return Items(adds, [(0, n)], None)
    adds = Adds()
    defaults: dict[str, Any] = {}  # the keyword defaults, checked once (when an item uses them)
    for item in items:
        if isinstance(item, Mapping):
            text = check_text(item.get("text"))
            ns = check_namespace(item["namespace"]) if "namespace" in item else None
            meta = check_metadata(item["metadata"]) if "metadata" in item else None
            who, sess = item.get("actor", actor) or "", item.get("session", session) or ""
        else:
            text, ns, meta, who, sess = check_text(item), None, None, actor or "", session or ""
        if ns is None:
            ns = defaults["ns"] if "ns" in defaults else defaults.setdefault("ns", check_namespace(namespace))
        if meta is None:
            meta = (
                defaults["meta"]
                if "meta" in defaults
                else defaults.setdefault("meta", check_metadata(metadata))
            )
        adds.texts.append(text)
        adds.namespaces.append(ns)
        adds.metadata.append(meta)
        adds.actors.append(who)
        adds.sessions.append(sess)
    adds.ids = list(new_ids(n))
    adds.created = [now] * n
    keys: dict[tuple[str, str], int] = {}
    group = [keys.setdefault(k, len(keys)) for k in zip(adds.namespaces, adds.sessions, strict=True)]
    order: np.ndarray | None = None
    if len(keys) > 1:  # records of a group are contiguous: their vectors too, in one block
        order = np.argsort(np.asarray(group), kind="stable")
        pick = order.tolist()
        for name in ("ids", "texts", "namespaces", "actors", "sessions", "metadata"):
            column = getattr(adds, name)
            setattr(adds, name, [column[i] for i in pick])
        group = [group[i] for i in pick]
    bounds = [i for i in range(1, n) if group[i] != group[i - 1]]
    return Items(adds, list(zip([0, *bounds], [*bounds, n], strict=True)) if n else [], order)


def check_vectors(vectors: Any, n: int, dim: int, embedder: str) -> np.ndarray:
    """Given vectors as float32 unit rows (a new array: the caller's is never changed)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape != (n, dim):
        raise MemoryStoreError(
            f"vectors have shape {tuple(vectors.shape)}, expected ({n}, {dim})",
            hint=f"this store's embedder '{embedder}' makes {dim}-d vectors",
        )
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))[:, None]  # float32, no temporaries
    norms[norms == 0] = 1.0
    return vectors / norms


def batch_events(items: Items, block: int, run_id: str) -> list[MemoryUpdateEvent]:
    """One event per group, pointing at the group's vectors in ``block``."""
    a = items.adds
    a.block, a.pos = [block] * len(a), list(range(len(a)))
    events = []
    for lo, hi in items.groups:
        if hi - lo == 1:
            record = {"id": a.ids[lo], "text": a.texts[lo], "actor": a.actors[lo], "session": a.sessions[lo],
                      "metadata": a.metadata[lo], "created": a.created[lo], "vector": [block, lo]}  # fmt: skip
            event = MemoryUpdateEvent(op="add", namespace=a.namespaces[lo], record_id=a.ids[lo], record=record,
                                      run_id=run_id, session_id=a.sessions[lo])  # fmt: skip
        else:
            batch = {"count": hi - lo, "ids": a.ids[lo:hi], "texts": a.texts[lo:hi], "actors": a.actors[lo:hi],
                     "metadata": a.metadata[lo:hi], "session": a.sessions[lo], "created": a.created[lo],
                     "vector": [block, lo]}  # fmt: skip
            event = MemoryUpdateEvent(op="add", namespace=a.namespaces[lo], batch=batch, run_id=run_id,
                                      session_id=a.sessions[lo])  # fmt: skip
        events.append(event)
    return events


def add_many(store: Memory, items: Iterable[str | Mapping[str, Any]], namespace: str, actor: str | None,
             session: str | None, metadata: dict[str, Any] | None, vectors: np.ndarray | None,
             token: str | None, run_id: str) -> list[MemoryRecord]:  # fmt: skip
    """``Memory.add_many``: returns after the events and the records are committed."""
    checked = check_items(items if isinstance(items, list) else list(items), namespace, actor, session,
                          metadata, time.time())  # fmt: skip
    adds = checked.adds
    if not len(adds):
        return []
    if vectors is not None:
        vectors = check_vectors(vectors, len(adds), store.dim, store.embedder.name)
        if checked.order is not None:
            vectors = vectors[checked.order]
    for ns in sorted(set(adds.namespaces)):
        authorize(store.project.services, token, f"memory:write:{ns}", session_id=session)
    if vectors is None:
        vectors = embed_all(store.embedder, adds.texts)
    with store._lock:
        # The index build (hnswlib releases the GIL) overlaps the commits of block and events.
        first = int(store._meta().get("next_label", 0))
        labels = np.arange(first, first + len(adds), dtype=np.int64)
        builder = threading.Thread(target=index_all, args=(store.index, vectors, labels), daemon=True)
        builder.start()
        try:
            events = batch_events(checked, write_block(store._db, store.dim, vectors), run_id)
            for e in events:
                emit_event(e, log=store._log)  # the seam fills run, node, session, trace ids
            store._log.flush()
            adds.seq = [
                e.seq for e, (lo, hi) in zip(events, checked.groups, strict=True) for _ in range(hi - lo)
            ]
            apply(store, events, vectors, adds=adds, indexed=True)
        except BaseException:
            builder.join()
            store._reopen_index(trust_file=False)  # drop what the failed write indexed
            raise
        builder.join()
        store._effort.maybe_calibrate()
    return checked.records()


def apply(store: Memory, events: list[MemoryUpdateEvent], vectors: np.ndarray | None = None, *,
          adds: Adds | None = None, indexed: bool = False) -> list[int]:  # fmt: skip
    """Project committed events into the records table (one transaction), the index and the cache;
    returns the new records' labels."""
    adds = adds if adds is not None else adds_of(events)
    if vectors is None:
        vectors = vectors_for(store._db, store.dim, store.embedder, adds)
    forgets = [e for e in events if e.op == "forget"]
    db = store._db
    with db.lock:
        meta = store._meta()
        next_label = int(meta.get("next_label", 0))
        labels = list(range(next_label, next_label + len(adds)))
        chain = extend(meta.get("applied_hash", ""), events)
        cur = db.cursor()
        cur.execute("BEGIN")
        try:
            if len(adds):
                cur.register("memory_batch", record_arrays(adds, labels))
                cur.execute(INSERT_FROM_ARRAYS)
                cur.unregister("memory_batch")
            for e in forgets:
                cur.execute("UPDATE memory_records SET tombstone = true, updated = ? WHERE id = ?",
                            [e.ts, e.record_id])  # fmt: skip
            store._set_meta(cur, applied_seq=events[-1].seq, next_label=next_label + len(adds),
                            applied_hash=chain)  # fmt: skip
            cur.execute("INSERT OR REPLACE INTO memory_positions VALUES (?, ?)", [events[-1].seq, chain])
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
    index = getattr(store, "index", None)
    if index is not None:
        if len(adds) and not indexed:
            index.add(vectors, np.asarray(labels, dtype=np.int64))
        for e in forgets:
            forget_label(store, e.record_id)
        if store._checkpointer is not None:
            store._checkpointer.changed(record_count(events))
        if len(adds) and not indexed:  # add_many asks after its index build joined
            store._effort.maybe_calibrate()
    if store._cache is not None:
        for i, label in enumerate(labels):
            store._cache[label] = adds.record(i)
    return labels


def forget_label(store: Memory, record_id: str) -> None:
    """Take a forgotten record out of the index and the cache."""
    rows = store._db.execute("SELECT label FROM memory_records WHERE id = ?", [record_id])
    for (label,) in rows:
        store.index.delete(label)
        if store._cache is not None and label in store._cache:
            store._cache[label].tombstone = True
