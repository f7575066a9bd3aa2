"""Agents: reason -> act (tools, sub-agents, concurrently) -> remember, as a dynamic graph.

``Agent(name, instructions, model, tools, memory_namespace, max_steps, max_tokens, timeout)``
defines one; ``agent.run("request")`` runs it on the project's runtime and returns an
:class:`AgentResult` (answer, usage, trace). In a graph it is an ``agent`` node
(:mod:`.executor`); in a notebook, ``%%agent`` / ``%agent`` / ``%subagent``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..project import register_service
from .registry import AgentRegistry
from .runner import AgentResult
from .spec import Agent, AgentError

if TYPE_CHECKING:
    from ..project import Project


def _factory(project: Project) -> AgentRegistry:
    return AgentRegistry()


register_service("agents", _factory)


def __getattr__(name: str) -> Any:
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Agent", "AgentError", "AgentRegistry", "AgentResult"]
