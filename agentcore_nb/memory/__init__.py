"""Memory: short-term session caches and the long-term, event-sourced store with HNSW search."""

from __future__ import annotations

from typing import Any

from ..project import Project, register_run_hook, register_service
from ..runtime.hooks import RunHook
from .embedders import Embedder, EmbedderError, get_embedder
from .records import MemoryHit, MemoryRecord, MemoryStoreError
from .shortterm import SessionCache
from .store import Memory


class MemoryContextHook(RunHook):
    """The run's "fetch context" step: the session's recent turns, when memory is in use."""

    name = "memory"

    def __init__(self, project: Project) -> None:
        self.project = project

    def fetch_context(self, run: Any) -> dict[str, Any] | None:
        memory = self.project.services.opened().get("memory")
        if memory is None or not run.session_id:
            return None
        turns = memory.session(run.session_id).recent()
        return {"recent": [t.to_dict() for t in turns]} if turns else None


register_service("memory", lambda project: Memory.shared(project))
register_run_hook("memory", MemoryContextHook)

__all__ = [
    "Embedder",
    "EmbedderError",
    "Memory",
    "MemoryContextHook",
    "MemoryHit",
    "MemoryRecord",
    "MemoryStoreError",
    "SessionCache",
    "get_embedder",
]
