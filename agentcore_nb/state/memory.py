"""A client's :class:`~agentcore_nb.memory.Memory`: the same API, the store and index at the owner.

Embedding happens here (the owner's server thread should not spend a model's CPU time on another
process's texts); records, the hnswlib index and the event-sourced projection live in the owner's
``Memory``. Session caches and background strategies stay in this process, as callables do.
After this process takes the state over, calls go to a local ``Memory`` opened on the same file.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..memory import store as _store
from ..memory.embedders import Embedder, embed, embed_batches, get_embedder
from ..memory.records import check_text
from ..memory.store import Memory
from ..project import Project
from .client import Promoted, StateLink

#: Writes are not retried on another owner after a connection broke mid-call (they may have applied).
_WRITES = frozenset({"add_many", "forget", "rebuild"})


class ClientMemory(Memory):
    def __init__(self, project: Project, *, embedder: str | Embedder | None = None, reembed: bool = False,
                 owns_project: bool = False) -> None:  # fmt: skip
        self.project = project
        self._owns_project = owns_project
        self._refs = 1
        self._lock = threading.RLock()
        self._db = project.database
        self._log = project.event_log
        self._sessions = {}
        self._cache = None
        self._strategies = None
        self._closed = False
        self._local: Memory | None = None
        self.link: StateLink = self._db.link  # type: ignore[attr-defined]
        self.rebuilt_index = False
        wanted = None if embedder is None or isinstance(embedder, str) else embedder
        name = wanted.name if wanted is not None else embedder
        while True:
            local = self._local_store(embedder, reembed)
            if local is not None:
                self.embedder, self.dim, self.index_path = local.embedder, local.dim, local.index_path
                return
            try:
                info = self.link.call("mem.open", name, reembed)
                break
            except Promoted:
                continue
        self.embedder = (
            wanted
            if wanted is not None and wanted.name == info["embedder"]
            else get_embedder(info["embedder"])
        )
        self.dim = int(info["dim"])
        self.index_path = Path(info["index_path"])

    def _local_store(self, embedder: Any = None, reembed: bool = False) -> Memory | None:
        if self.link.local_db is None:
            return None
        with self._lock:
            if self._local is None:
                local = object.__new__(Memory)
                local.__init__(self.project, embedder=embedder or getattr(self, "embedder", None),  # type: ignore[misc]
                               reembed=reembed)  # fmt: skip
                self._local = local
            return self._local

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        while True:
            local = self._local_store()
            if local is not None:
                return getattr(local, method)(*args, **kwargs)
            try:
                return self.link.call("mem.call", method, args, kwargs, retry=method not in _WRITES)
            except Promoted:
                continue

    def _embed(self, texts: list[str]) -> np.ndarray:
        return embed_batches(self.embedder, texts)

    # ------------------------------------------------------------------ the data API, at the owner
    def add_many(self, items: Iterable[str | Mapping[str, Any]], **kwargs: Any) -> list[Any]:  # type: ignore[override]
        items = items if isinstance(items, list) else list(items)
        if items and kwargs.get("vectors") is None and self._local_store() is None:
            texts = [check_text(i.get("text") if isinstance(i, Mapping) else i) for i in items]
            kwargs["vectors"] = self._embed(texts)
        return self._call("add_many", items, **kwargs)  # type: ignore[no-any-return]

    def search(self, query: Any, **kwargs: Any) -> list[Any]:  # type: ignore[override]
        if isinstance(query, str) and self._local_store() is None:
            check_text(query)
            query = embed(self.embedder, [query])[0]
        return self._call("search", query, **kwargs)  # type: ignore[no-any-return]

    def forget(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("forget", *args, **kwargs)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("get", *args, **kwargs)

    def list(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("list", *args, **kwargs)

    def events(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("events", *args, **kwargs)

    def stats(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("stats", *args, **kwargs)

    def rebuild(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("rebuild", *args, **kwargs)

    def save_index(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("save_index", *args, **kwargs)

    @property
    def index(self) -> Any:  # type: ignore[override]
        local = self._local_store()
        if local is None:
            raise AttributeError("the index of a shared project lives in the owner process")
        return local.index

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        with _store._stores_lock:
            if self._closed:
                return
            self._refs -= 1
            if self._refs > 0:
                return
            self._closed = True
            key = str(self.project.database_path)
            if _store._stores.get(key) is self:
                del _store._stores[key]
        try:
            if self._strategies is not None:
                self._strategies.close()
            if self._local is not None:
                self._local.close()
        finally:
            if self._owns_project:
                self.project.close()
