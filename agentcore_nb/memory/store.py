"""Long-term memory: records in the project's DuckDB file, an hnswlib index beside it.

Event-sourced: every add/forget is first a committed ``MemoryUpdateEvent`` in the event log (one
per ``add_many`` call: ``ingest.py``, the write path); the ``memory_records`` table and the index
are projections of those events, with a watermark
(``applied_seq``) and a hash chain of the history (``provenance.py``). Opening a store replays
events past the watermark (a crash between commit and projection loses nothing) and loads, tops
up or rebuilds the index (``indexing.py``); the index is checkpointed in the background
(``checkpoint.py``) and its search effort follows a recall target (``effort.py``).
"""

from __future__ import annotations

import builtins
import logging
import math
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..authz import authorize
from ..events import MemoryUpdateEvent
from ..home import DB_FILENAME
from ..project import Project
from ..runtime.emitting import emit as emit_event
from . import ingest
from .checkpoint import Checkpointer
from .effort import SearchEffort, check_ef, check_recall
from .embedders import Embedder, embed, get_embedder
from .index import VectorIndex, publish
from .indexing import IndexOpening, open_index
from .provenance import new_store_id
from .query import where_clause
from .records import MemoryHit, MemoryRecord, MemoryStoreError, check_text
from .schema import COLS, DDL, SCHEMA_VERSION, expand, progress, record_count, record_of
from .shortterm import SessionCache
from .vectors import reembed

INDEX_FILE = "memory.hnsw"
log = logging.getLogger("agentcore_nb.memory")
_stores: dict[str, Memory] = {}
_stores_lock = threading.Lock()


class Memory:
    """Long-term memory of one project (plus short-term session caches)."""

    def __new__(cls, project: Project, *args: Any, **kwargs: Any) -> Memory:
        """In a process that does not own the project's state: the owner's store (agentcore_nb/state/)."""
        if cls is Memory and getattr(project.database, "link", None) is not None:
            from ..state.memory import ClientMemory

            return object.__new__(ClientMemory)
        return object.__new__(cls)

    def __init__(self, project: Project, *, embedder: str | Embedder | None = None, reembed: bool = False,
                 owns_project: bool = False) -> None:  # fmt: skip
        self.project = project
        self._owns_project = owns_project
        self._refs = 1
        self._lock = threading.RLock()
        self._save_lock = threading.Lock()
        self._db = project.database
        self._log = project.event_log
        self._db.ensure_schema("memory", SCHEMA_VERSION, DDL)
        self.index_path = project.home / INDEX_FILE
        self._sessions: dict[str, SessionCache] = {}
        self._cache: dict[int, MemoryRecord] | None = None
        self._strategies: Any = None
        self._closed = False
        self._checkpointer: Checkpointer | None = None
        self.embedder = self._choose_embedder(embedder, reembed)
        self.dim = self.embedder.dim
        meta = self._meta()
        self.store_id = meta["store_id"]
        self._effort = SearchEffort(self._db, meta, lambda: self.index, self._lock)
        self._catch_up()
        self._reopen_index()
        self._checkpointer = Checkpointer(self._checkpoint, lambda: self.index.count)
        self._checkpointer.changed(self.index_opening.applied)
        self._effort.maybe_calibrate()

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        where: str | Path | Project | None = None,
        *,
        embedder: str | Embedder | None = None,
        reembed: bool = False,
        recall: float | None = None,
    ) -> Memory:
        """The memory of a project (a :class:`Project`, its state directory, or its DuckDB file).

        ``recall`` sets the store's recall target (kept in the store; default 0.99).
        """
        if recall is not None:
            check_recall(recall)
        if isinstance(where, Project):
            memory = cls(where, embedder=embedder, reembed=reembed)
        else:
            home: Path | None = None
            if where is not None:
                p = Path(where)
                if p.suffix == ".duckdb":
                    if p.name != DB_FILENAME:
                        raise MemoryStoreError(f"{p}: a memory store lives in a state dir's {DB_FILENAME}")
                    home = p.parent
                else:
                    home = p
            project = Project(home)
            try:
                memory = cls.shared(project, embedder=embedder, reembed=reembed, owns_project=True)
            except BaseException:
                project.close()
                raise
            if memory.project is not project:
                project.close()
        if recall is not None:
            memory.recall_target = recall
        return memory

    @classmethod
    def shared(cls, project: Project, *, embedder: str | Embedder | None = None, reembed: bool = False,
               owns_project: bool = False) -> Memory:  # fmt: skip
        """The one store object per file in this process (each has the index in memory)."""
        key = str(project.database_path)
        with _stores_lock:
            memory = _stores.get(key)
            if memory is not None and not memory._closed:
                if embedder is not None and not reembed:
                    wanted = get_embedder(embedder) if isinstance(embedder, str) else embedder
                    if wanted.name != memory.embedder.name:
                        raise MemoryStoreError(
                            f"this memory store is open with embedder '{memory.embedder.name}', "
                            f"not '{wanted.name}'"
                        )
                memory._refs += 1
                return memory
            memory = _stores[key] = cls(
                project, embedder=embedder, reembed=reembed, owns_project=owns_project
            )
            return memory

    def _meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM memory_meta"))

    def _set_meta(self, cur: Any, **values: Any) -> None:
        for key, value in values.items():
            cur.execute("INSERT OR REPLACE INTO memory_meta VALUES (?, ?)", [key, str(value)])

    def _choose_embedder(self, wanted: str | Embedder | None, reembed: bool) -> Embedder:
        meta = self._meta()
        recorded = meta.get("embedder")
        if wanted is None:
            chosen = get_embedder(recorded) if recorded else get_embedder()
        else:
            chosen = get_embedder(wanted) if isinstance(wanted, str) else wanted
        if "store_id" not in meta:  # new, or made before stores had an id
            with self._db.lock:
                self._set_meta(self._db.cursor(), store_id=new_store_id())
        if recorded is None:
            with self._db.lock:
                cur = self._db.cursor()
                self._set_meta(cur, embedder=chosen.name, dim=chosen.dim, applied_seq=-1, next_label=0)
            return chosen
        if chosen.name != recorded or str(chosen.dim) != meta.get("dim"):
            if not reembed:
                raise MemoryStoreError(
                    f"this memory store was built with embedder '{recorded}' (dim {meta.get('dim')}), "
                    f"not '{chosen.name}' (dim {chosen.dim})",
                    hint=f"open it with embedder='{recorded}', or re-embed every record with reembed=True",
                )
            self._reembed(chosen)
        return chosen

    # ------------------------------------------------------------------ event sourcing
    def _catch_up(self) -> None:
        """Apply committed memory events the projection has not seen (a crash left them)."""
        applied = int(self._meta().get("applied_seq", -1))
        pending = self._history(after_seq=applied)
        if pending:
            self._apply(pending)

    def _apply(self, events: builtins.list[MemoryUpdateEvent]) -> builtins.list[int]:
        """Project committed events (records table, index, cache); returns the new labels."""
        return ingest.apply(self, events)

    # ------------------------------------------------------------------ the index
    def _reopen_index(self, *, trust_file: bool = True) -> None:
        index, opening = open_index(self._db, self.dim, self.index_path, store_id=self.store_id,
                                    embedder=self.embedder.name, trust_file=trust_file)  # fmt: skip
        self.index: VectorIndex = index
        self.index_opening: IndexOpening = opening
        self.rebuilt_index = opening.action != "loaded"

    def save_index(self) -> None:
        """Write the index and its sidecar now (checkpoints also do this in the background)."""
        self._lock.acquire()
        try:
            self._save_lock.acquire()
            meta = self._meta()
            tmp = self.index_path.with_suffix(".tmp")
            count = self.index.write(tmp)
            side = {"embedder": self.embedder.name, "dim": self.dim, "count": count,
                    "store_id": self.store_id, "seq": int(meta.get("applied_seq", -1)),
                    "hash": meta.get("applied_hash", "")}  # fmt: skip
            if self._checkpointer is not None:
                self._checkpointer.saved()
        except BaseException:
            self._save_lock.release()
            raise
        finally:
            self._lock.release()
        try:  # the CRC and the renames run without blocking writers
            publish(tmp, self.index_path, side)
        finally:
            self._save_lock.release()

    def _checkpoint(self) -> None:
        if not self._closed:
            self.save_index()

    def rebuild(self) -> int:
        """Rebuild the records table and the index from the event log alone; returns live records."""
        with self._lock:
            events = self._history()
            with self._db.lock:
                cur = self._db.cursor()
                cur.execute("BEGIN")
                cur.execute("DELETE FROM memory_records")
                cur.execute("DELETE FROM memory_positions")
                self._set_meta(cur, applied_seq=-1, next_label=0, applied_hash="")
                cur.execute("COMMIT")
            total = record_count(events)
            self.index = VectorIndex(self.dim, capacity=max(total, 1024))
            self._cache = None
            with progress(total, "memory: replaying") as bar:
                chunk: builtins.list[MemoryUpdateEvent] = []
                size = 0
                for i, e in enumerate(events):  # steps of about 5,000 records
                    chunk.append(e)
                    size += record_count([e])
                    if size >= 5000 or i == len(events) - 1:
                        self._apply(chunk)
                        bar.update(size)
                        chunk, size = [], 0
            self.save_index()
            return int(self.stats()["live"])

    def _reembed(self, embedder: Embedder) -> None:
        self.dim = embedder.dim
        reembed(self._db, embedder)
        self.index_path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ search effort
    @property
    def recall_target(self) -> float:
        """The recall@10 searches aim for unless a call says otherwise (kept in the store)."""
        return self._effort.target

    @recall_target.setter
    def recall_target(self, recall: float) -> None:
        self._effort.set_target(recall)

    def effort(self, *, k: int = 10, recall: float | None = None) -> dict[str, Any]:
        """The ef a search would use now, where it comes from, and the last measured recall."""
        return self._effort.describe(k, recall)

    def calibrate(self) -> dict[str, Any] | None:
        """Measure recall per ef on this store's data now (it also runs by itself after growth)."""
        found = self._effort.calibrate()
        return found.to_dict() if found else None

    # ------------------------------------------------------------------ writing
    def add(self, text: str, *, namespace: str = "default", actor: str | None = None,
            session: str | None = None, metadata: dict[str, Any] | None = None,
            token: str | None = None) -> MemoryRecord:  # fmt: skip
        """Remember one text; returns after it is committed."""
        return self.add_many([text], namespace=namespace, actor=actor, session=session,
                             metadata=metadata, token=token)[0]  # fmt: skip

    def add_many(self, items: Iterable[str | Mapping[str, Any]], *, namespace: str = "default",
                 actor: str | None = None, session: str | None = None,
                 metadata: dict[str, Any] | None = None, vectors: np.ndarray | None = None,
                 token: str | None = None, run_id: str = "") -> list[MemoryRecord]:  # fmt: skip
        """Remember many texts (strings, or dicts with ``text`` and any of the keyword fields).

        ``vectors`` (n x dim) skips embedding. Returns after every record is committed.
        """
        self._effort.begin_write()  # a due calibration waits for the end of a bulk ingest
        try:
            return ingest.add_many(self, items, namespace, actor, session, metadata, vectors, token, run_id)
        finally:
            self._effort.end_write()

    def forget(self, record_id: str, *, token: str | None = None) -> MemoryRecord:
        """Tombstone a record: it stays in the history, never in results."""
        record = self.get(record_id)
        authorize(self.project.services, token, f"memory:write:{record.namespace}")
        if record.tombstone:
            return record
        event = MemoryUpdateEvent(op="forget", namespace=record.namespace, record_id=record_id)
        with self._lock:
            emit_event(event, log=self._log)
            self._log.flush()
            self._apply([event])
        record.tombstone = True
        return record

    # ------------------------------------------------------------------ reading
    def get(self, record_id: str) -> MemoryRecord:
        rows = self._db.execute(f"SELECT {COLS} FROM memory_records WHERE id = ?", [record_id])
        if not rows:
            raise MemoryStoreError(f"no memory record with id {record_id!r}")
        return record_of(rows[0])

    def _records(self, labels: list[int]) -> dict[int, MemoryRecord]:
        with self._lock:
            if self._cache is None:
                rows = self._db.execute(f"SELECT {COLS} FROM memory_records")
                self._cache = {r[1]: record_of(r) for r in rows}
            return {label: self._cache[label] for label in labels if label in self._cache}

    def _where(self, namespace: str | None, filters: Any, since: float | None, until: float | None,
               strict: bool) -> tuple[list[str], list[Any]]:  # fmt: skip
        return where_clause(self._db, namespace, filters, since, until, strict=strict,
                            known=lambda: list(self.stats()["namespaces"]))  # fmt: skip

    def search(self, query: str | np.ndarray | list[float], *, k: int = 5, namespace: str | None = None,
               filters: dict[str, Any] | None = None, since: float | None = None,
               until: float | None = None, token: str | None = None, strict: bool = True,
               session: str | None = None, recall: float | None = None,
               ef: int | None = None) -> list[MemoryHit]:  # fmt: skip
        """Top-``k`` records by cosine similarity; ``namespace`` ending in ``/`` matches a prefix.

        The search effort follows the store's recall target; ``recall=`` sets another for this
        call, ``ef=`` sets hnswlib's effort directly.
        """
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise MemoryStoreError(f"k must be a positive integer, got {k!r}")
        if recall is not None:
            check_recall(recall)
        if ef is not None:
            check_ef(ef)
        authorize(self.project.services, token, f"memory:read:{namespace or '*'}", session_id=session)
        if isinstance(query, str):
            check_text(query)
            vector = embed(self.embedder, [query])[0]
        else:
            vector = np.asarray(query, dtype=np.float32).reshape(-1)
            if vector.shape != (self.dim,):
                raise MemoryStoreError(
                    f"query vector has dimension {vector.size}, this store uses {self.dim}"
                )
        filtered = namespace is not None or filters or since is not None or until is not None
        allowed: set[int] | None = None
        if filtered:
            where, params = self._where(namespace, filters, since, until, strict)
            rows = self._db.execute(f"SELECT label FROM memory_records WHERE {' AND '.join(where)}", params)
            allowed = {r[0] for r in rows}
            if not allowed:
                return []
        with self._lock:
            live = self.index.live_count()
            if allowed is not None and len(allowed) <= 2000:
                labels = sorted(allowed)
                sims = self.index.vectors(labels) @ vector
                order = np.argsort(-sims)[:k]
                found, scores = [labels[i] for i in order], [float(sims[i]) for i in order]
            else:
                if ef is None:
                    ef = self._effort.ef(k, recall, live)
                    if allowed is not None:  # a filter hides most of the graph: look further
                        ef *= min(8, math.ceil(live / len(allowed)))
                found, scores = self.index.query(vector, k, ef=ef, allowed=allowed)
        records = self._records(found)
        return [MemoryHit(records[lb], s) for lb, s in zip(found, scores, strict=True) if lb in records]

    def list(
        self, *, namespace: str | None = None, limit: int = 20, include_forgotten: bool = False,
             token: str | None = None) -> builtins.list[MemoryRecord]:  # fmt: skip
        """The newest records (in a namespace, or a prefix ending with ``/``)."""
        authorize(self.project.services, token, f"memory:read:{namespace or '*'}")
        where, params = self._where(namespace, None, None, None, strict=False)
        if include_forgotten:
            where = where[1:] or ["true"]
        rows = self._db.execute(
            f"SELECT {COLS} FROM memory_records WHERE {' AND '.join(where)} ORDER BY label DESC LIMIT ?",
            [*params, limit],
        )
        return [record_of(r) for r in rows]

    def events(
        self, *, namespace: str | None = None, limit: int | None = None
    ) -> builtins.list[MemoryUpdateEvent]:
        """The memory's history (adds and forgets), oldest first: one event per record (the records
        of an ``add_many``, one event in the log, share its ``seq``)."""
        found = [
            one
            for e in self._history()
            if namespace is None
            or e.namespace == namespace
            or e.namespace.startswith(namespace.rstrip("/") + "/")
            for one in expand(e)
        ]
        return found[-limit:] if limit else found

    def _history(self, after_seq: int = -1) -> builtins.list[MemoryUpdateEvent]:
        """Memory events of the log (the store's source of truth), oldest first."""
        events = self._log.events(types=[MemoryUpdateEvent.type], after_seq=after_seq)
        return [e for e in events if isinstance(e, MemoryUpdateEvent)]

    def stats(self) -> dict[str, Any]:
        rows = self._db.execute(
            "SELECT namespace, count(*) FILTER (WHERE NOT tombstone), count(*) FILTER (WHERE tombstone) "
            "FROM memory_records GROUP BY namespace ORDER BY namespace"
        )
        live = sum(r[1] for r in rows)
        forgotten = sum(r[2] for r in rows)
        return {
            "records": live + forgotten,
            "live": live,
            "forgotten": forgotten,
            "namespaces": {r[0]: r[1] for r in rows if r[1]},
            "embedder": self.embedder.name,
            "dim": self.dim,
            "index": str(self.index_path),
            "indexed": self.index.live_count(),
            "effort": self.effort(),
            "index_opening": self.index_opening.to_dict(),
        }

    # ------------------------------------------------------------------ short-term + strategies
    def session(self, session_id: str) -> SessionCache:
        """The short-term cache of one session (in memory; bounded)."""
        with self._lock:
            cache = self._sessions.get(session_id)
            if cache is None:
                cache = self._sessions[session_id] = SessionCache(session_id)
            return cache

    def end_session(self, session_id: str) -> None:
        """Forget a session's short-term cache (the session expired)."""
        with self._lock:
            self._sessions.pop(session_id, None)

    @property
    def strategies(self) -> Any:
        from .strategies import StrategyRunner

        with self._lock:
            if self._strategies is None:
                self._strategies = StrategyRunner(self)
            return self._strategies

    def after_turn(self, session_id: str, *, namespace: str = "default",
                   strategies: Iterable[str] = ("semantic",), token: str | None = None) -> Any:  # fmt: skip
        """Run long-term strategies over the session's recent turns, in the background."""
        return self.strategies.submit(
            session_id, namespace=namespace, strategies=tuple(strategies), token=token
        )

    def flush(self) -> None:
        """Wait for background work: strategies, a running calibration, a due index checkpoint."""
        if self._strategies is not None:
            self._strategies.wait()
        self._effort.wait()
        if self._checkpointer is not None:
            self._checkpointer.wait_idle()

    def index_status(self) -> dict[str, Any]:
        """Checkpoints so far, records changed since the last save, failed tries since the last
        save (and the last error), what opening the index did."""
        cp = self._checkpointer
        return {"checkpoints": cp.saves if cp else 0, "unsaved": cp.unsaved if cp else 0,
                "failures": cp.failures if cp else 0, "last_error": cp.last_error if cp else "",
                "opening": self.index_opening.to_dict()}  # fmt: skip

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Release one user; the last one waits for strategies, saves the index, closes files."""
        with _stores_lock:
            if self._closed:
                return
            self._refs -= 1
            if self._refs > 0:
                return
            self._closed = True
            if _stores.get(str(self.project.database_path)) is self:
                del _stores[str(self.project.database_path)]
        try:
            if self._strategies is not None:
                self._strategies.close()
            self._effort.close()
            if self._checkpointer is not None:
                self._checkpointer.close()
            self.save_index()
        finally:
            if self._owns_project:
                self.project.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
