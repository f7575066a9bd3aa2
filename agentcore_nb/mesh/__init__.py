"""AgentMesh: agents that collaborate over an event bus (``docs/mesh.md``).

``open_bus()`` gives a :class:`Bus` on the in-process backend (the default: notebooks, tests) or,
with ``AGENTCORE_MESH_URL=redis://HOST:PORT`` (or ``url=``), on Redis Streams for agents in
separate processes. ``project.services["mesh"]`` is the project's bus; the ``mesh`` node kind
publishes or requests from a graph; ``agentcore mesh worker`` serves a bundle on a topic.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..project import register_service
from .backend import Entry, StreamBackend
from .bus import Bus, Subscription, dead_letter_topic
from .inprocess import InProcessBackend, shared
from .message import MeshError, MeshMessage, MeshTimeout, RemoteError

if TYPE_CHECKING:
    from ..project import Project

MESH_URL_ENV = "AGENTCORE_MESH_URL"


def open_backend(url: str | None = None) -> StreamBackend:
    """``inprocess`` (default), or ``redis://HOST:PORT[/DB]``; anything else is a clear error."""
    url = url or os.environ.get(MESH_URL_ENV) or "inprocess"
    if url == "inprocess":
        return shared()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .redis_backend import RedisBackend

        return RedisBackend(url)
    raise MeshError(f"unknown mesh backend {url!r}", hint="use 'inprocess' or redis://HOST:PORT")


def open_bus(url: str | None = None, *, name: str | None = None, tracer_provider: Any = None) -> Bus:
    """A bus on the backend named by ``url`` / ``$AGENTCORE_MESH_URL`` (in-process by default)."""
    return Bus(open_backend(url), name=name, tracer_provider=tracer_provider)


def _factory(project: Project) -> Bus:
    return open_bus()


register_service("mesh", _factory)

__all__ = [
    "Bus",
    "Entry",
    "InProcessBackend",
    "MeshError",
    "MeshMessage",
    "MeshTimeout",
    "RemoteError",
    "StreamBackend",
    "Subscription",
    "dead_letter_topic",
    "open_backend",
    "open_bus",
]
