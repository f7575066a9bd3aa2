"""Long-lived sub-agent sessions: a python node whose callable takes ``session_state`` keeps a dict
across its calls in the same session (the run's ``session_id``: a served session, or the session a
caller names), e.g. a sub-agent's conversation so far.

The local backend keeps the dicts here, in the driver; the Ray backend keeps each one inside a Ray
actor per (session, node) that runs the node's calls (``ray_backend.session_actor_class``). Both end a
session's state when the session ends (:meth:`Runtime.end_session`, called by ``agentcore serve``
when a session expires) and keep at most ``limit`` sessions, forgetting the least recently used.
"""

from __future__ import annotations

import inspect
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

#: The parameter that makes a python callable a session-stateful node body.
PARAM = "session_state"
#: Sessions whose state is kept at once (per runtime) before the least recently used is dropped.
LIMIT = 4096


def wants_session_state(fn: Callable[..., Any], inputs: dict[str, str]) -> bool:
    try:
        return PARAM in inspect.signature(fn).parameters and PARAM not in inputs
    except (TypeError, ValueError):
        return False


class SessionStates:
    """``(session, node) -> dict``, by session, least recently used first; thread-safe."""

    def __init__(self, limit: int = LIMIT, on_drop: Callable[[str, dict[str, Any]], None] | None = None):
        self.limit = limit
        self.on_drop = on_drop
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def get(self, session_id: str, node_id: str, make: Callable[[], Any] = dict) -> Any:
        """The value kept for ``node_id`` in ``session_id`` (made with ``make()`` on first use)."""
        dropped: list[tuple[str, dict[str, Any]]] = []
        with self._lock:
            nodes = self._sessions.get(session_id)
            if nodes is None:
                nodes = self._sessions[session_id] = {}
                while len(self._sessions) > self.limit:
                    dropped.append(self._sessions.popitem(last=False))
            else:
                self._sessions.move_to_end(session_id)
            value = nodes.get(node_id)
            if value is None:
                value = nodes[node_id] = make()
        for sid, gone in dropped:
            self._dropped(sid, gone)
        return value

    def end(self, session_id: str) -> None:
        with self._lock:
            gone = self._sessions.pop(session_id, None)
        if gone is not None:
            self._dropped(session_id, gone)

    def clear(self) -> None:
        with self._lock:
            items = list(self._sessions.items())
            self._sessions.clear()
        for sid, gone in items:
            self._dropped(sid, gone)

    def _dropped(self, session_id: str, nodes: dict[str, Any]) -> None:
        if self.on_drop is not None:
            self.on_drop(session_id, nodes)

    def __len__(self) -> int:
        return len(self._sessions)

    def sessions(self) -> list[str]:
        with self._lock:
            return list(self._sessions)
