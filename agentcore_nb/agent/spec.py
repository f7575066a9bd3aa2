"""What an agent is: a name, instructions, a model, tools, a memory namespace, limits, sub-agents.

An :class:`Agent` is plain data with a JSON form (``to_config`` / ``from_config``), so the ``agent``
node of an exported graph carries the whole definition, sub-agents included. A provider *object*
given as ``model`` is used in-process and saved by its name (never with its key).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import AgentcoreError
from ..graph.validate import NAME_RE
from ..models.types import Provider

_NS = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*/?$")
_FIELDS = (
    "name",
    "instructions",
    "model",
    "tools",
    "memory_namespace",
    "max_steps",
    "max_tokens",
    "timeout",
    "subagents",
    "description",
    "memory_k",
    "remember",
    "tool_retries",
    "base_url",
)


class AgentError(AgentcoreError):
    """An agent was defined wrongly, or stopped (limits, divergence, failures)."""


@dataclass(eq=False)
class Agent:
    """An agent: reason -> call tools (concurrently) -> remember -> repeat, until done or a limit.

    ``tools`` are gateway tool names; ``subagents`` are agents this one may call like tools (each
    runs as a nested ``agent`` node with its own trace subtree). ``memory_namespace`` is searched
    before the first step; ``remember`` is where the finished turn is written (default
    ``agents/NAME`` when memory is used; ``False`` writes nothing). ``max_tokens`` bounds the
    tokens of the whole run (input + output, sub-agents included); ``timeout`` its seconds.
    """

    name: str
    instructions: str = ""
    model: str | Provider | None = None
    tools: list[str] = field(default_factory=list)
    memory_namespace: str | None = None
    max_steps: int = 8
    max_tokens: int | None = None
    timeout: float | None = None
    subagents: list[Agent] = field(default_factory=list)
    description: str = ""
    memory_k: int = 3
    remember: str | bool | None = None
    tool_retries: int = 1
    base_url: str | None = None

    def __post_init__(self) -> None:
        self.tools = list(self.tools or [])
        self.subagents = list(self.subagents or [])
        problems = self.problems()
        if problems:
            raise AgentError(f"agent {self.name!r}: " + "; ".join(problems))

    # ------------------------------------------------------------------ checks
    def problems(self) -> list[str]:
        out = []
        if not isinstance(self.name, str) or not NAME_RE.match(self.name):
            out.append("the name must start with a letter and use letters, digits, '_' or '-'")
        if not isinstance(self.instructions, str):
            out.append("instructions must be a string")
        if self.model is not None and not isinstance(self.model, (str, Provider)):
            out.append("model must be a name like openai:gpt-4o-mini, or a Provider")
        if isinstance(self.model, str):
            from ..models.config import parse_spec

            try:
                parse_spec(self.model)
            except AgentcoreError as exc:
                out.append(exc.message)
        if not all(isinstance(t, str) and t for t in self.tools):
            out.append("tools must be a list of tool names")
        if self.memory_namespace is not None and (
            not isinstance(self.memory_namespace, str) or not _NS.match(self.memory_namespace)
        ):
            out.append(f"memory namespace {self.memory_namespace!r} is invalid (e.g. support/refunds)")
        if isinstance(self.remember, str) and not _NS.match(self.remember):
            out.append(f"remember namespace {self.remember!r} is invalid")
        for label, value, low in (("max_steps", self.max_steps, 1), ("memory_k", self.memory_k, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                out.append(f"{label} must be a positive integer, got {value!r}")
        if (
            isinstance(self.tool_retries, bool)
            or not isinstance(self.tool_retries, int)
            or not 0 <= self.tool_retries <= 10
        ):
            out.append(f"tool_retries must be between 0 and 10, got {self.tool_retries!r}")
        if self.max_tokens is not None and (
            isinstance(self.max_tokens, bool) or not isinstance(self.max_tokens, int) or self.max_tokens < 1
        ):
            out.append(f"max_tokens must be a positive integer, got {self.max_tokens!r}")
        if self.timeout is not None and (
            isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)) or self.timeout <= 0
        ):
            out.append(f"timeout must be a positive number of seconds, got {self.timeout!r}")
        names = [a.name for a in self.subagents if isinstance(a, Agent)]
        if len(names) != len(self.subagents):
            out.append("subagents must be Agent objects")
        clash = sorted(set(names) & set(self.tools))
        if clash:
            out.append(f"{', '.join(clash)} is both a tool and a sub-agent")
        if self.name in names:
            out.append("an agent cannot be its own sub-agent")
        elif self._reaches(self):
            out.append("the sub-agents form a cycle")
        return out

    def _reaches(self, target: Agent) -> bool:
        """True when ``target`` (or an agent of its name) is among the sub-agents, at any depth."""
        stack, seen = list(self.subagents), set()
        while stack:
            child = stack.pop()
            if not isinstance(child, Agent) or id(child) in seen:
                continue
            if child is target or child.name == target.name:
                return True
            seen.add(id(child))
            stack.extend(child.subagents)
        return False

    def descendants(self, seen: set[int] | None = None) -> set[str]:
        seen = seen if seen is not None else {id(self)}
        found: set[str] = set()
        for child in self.subagents:
            if not isinstance(child, Agent) or id(child) in seen:
                continue
            seen.add(id(child))
            found.add(child.name)
            found |= child.descendants(seen)
        return found

    # ------------------------------------------------------------------ derived
    @property
    def summary(self) -> str:
        """One line describing the agent to a parent's model (its tool description)."""
        if self.description:
            return self.description
        first = next((ln.strip() for ln in self.instructions.splitlines() if ln.strip()), "")
        return first or f"The {self.name} agent."

    @property
    def remember_namespace(self) -> str | None:
        if self.remember is False:
            return None
        if isinstance(self.remember, str):
            return self.remember
        return f"agents/{self.name}" if self.memory_namespace else None

    @property
    def model_name(self) -> str | None:
        if isinstance(self.model, Provider):
            return self.model.spec
        return self.model

    def add_subagent(self, child: Agent) -> None:
        """Let this agent call ``child`` (replacing a sub-agent of the same name)."""
        self.subagents = [a for a in self.subagents if a.name != child.name] + [child]
        problems = self.problems()
        if problems:
            self.subagents = [a for a in self.subagents if a is not child]
            raise AgentError(f"agent {self.name!r}: " + "; ".join(problems))

    def find(self, name: str) -> Agent | None:
        """This agent or a (nested) sub-agent by name."""
        if self.name == name:
            return self
        for child in self.subagents:
            found = child.find(name)
            if found is not None:
                return found
        return None

    def run(self, request: str, **kwargs: Any) -> Any:
        """Run on the project's runtime; returns an :class:`AgentResult` (see ``runner.run``)."""
        from .runner import run

        return run(self, request, **kwargs)

    # ------------------------------------------------------------------ JSON form
    def _nameable(self) -> bool:
        """Whether the model can be named in the JSON form (a custom provider object cannot: it is
        used in-process only, and the JSON form falls back to the default model)."""
        if not isinstance(self.model, Provider):
            return True
        from ..models.config import PROVIDERS

        return self.model.name in PROVIDERS and self.model.name != "replay"

    def to_config(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "instructions": self.instructions}
        if self.model is not None and self._nameable():
            data["model"] = self.model_name
            url = getattr(self.model, "base_url", None) if isinstance(self.model, Provider) else self.base_url
            if isinstance(url, str):
                from ..models.http import safe_url

                data["base_url"] = safe_url(url)
        defaults = Agent.__dataclass_fields__
        for key in (
            "tools",
            "memory_namespace",
            "max_steps",
            "max_tokens",
            "timeout",
            "description",
            "memory_k",
            "remember",
            "tool_retries",
        ):
            value = getattr(self, key)
            default = defaults[key].default
            if key == "tools":
                if value:
                    data[key] = list(value)
            elif value != default:
                data[key] = value
        if self.subagents:
            data["subagents"] = [a.to_config() for a in self.subagents]
        return data

    @classmethod
    def from_config(cls, data: Any) -> Agent:
        if not isinstance(data, dict):
            raise AgentError(f"an agent definition must be an object, got {type(data).__name__}")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise AgentError(f"agent definition has unknown field(s) {', '.join(unknown)}")
        if "name" not in data:
            raise AgentError("an agent definition needs a name")
        kwargs = {k: v for k, v in data.items() if k in _FIELDS and k != "subagents"}
        kwargs["subagents"] = [cls.from_config(c) for c in data.get("subagents") or []]
        return cls(**kwargs)

    def __repr__(self) -> str:
        extra = f", subagents={[a.name for a in self.subagents]}" if self.subagents else ""
        return f"Agent({self.name!r}, model={self.model_name or 'default'!r}, tools={self.tools}{extra})"
