"""The agents defined in a process (``%%agent`` cells, code), by name; ``%subagent`` links them."""

from __future__ import annotations

import threading

from .spec import Agent, AgentError


class AgentRegistry:
    """``project.services["agents"]``: define, look up and nest agents by name."""

    def __init__(self) -> None:
        self._agents: dict[str, Agent] = {}
        self._links: dict[str, list[str]] = {}  # parent -> children, re-applied on redefinition
        self._lock = threading.RLock()

    def define(self, agent: Agent) -> Agent:
        """Add or replace ``agent``; sub-agent links made with :meth:`link` are kept."""
        with self._lock:
            self._agents[agent.name] = agent
            for child in self._links.get(agent.name, []):
                if child in self._agents and all(a.name != child for a in agent.subagents):
                    agent.add_subagent(self._agents[child])
            for parent, children in self._links.items():
                if agent.name in children and parent in self._agents:
                    self._agents[parent].add_subagent(agent)
            return agent

    def find(self, name: str) -> Agent | None:
        with self._lock:
            return self._agents.get(name)

    def get(self, name: str) -> Agent:
        with self._lock:
            found = self._agents.get(name)
        if found is None:
            known = ", ".join(sorted(self._agents)) or "none yet"
            raise AgentError(
                f"no agent named {name!r} (defined: {known})", hint="define it with %%agent NAME"
            )
        return found

    def link(self, parent: str, child: str) -> Agent:
        """Let ``parent`` call ``child`` as a sub-agent (both must be defined)."""
        if parent == child:
            raise AgentError(f"agent {parent!r} cannot be its own sub-agent")
        with self._lock:
            p, c = self.get(parent), self.get(child)
            p.add_subagent(c)
            links = self._links.setdefault(parent, [])
            if child not in links:
                links.append(child)
            return p

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._agents)

    def __contains__(self, name: object) -> bool:
        return name in self._agents

    def __len__(self) -> int:
        return len(self._agents)
