"""Run an agent as a graph of one ``agent`` node on a project's runtime, and read back what it did."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import AgentcoreError
from ..events import Event
from ..graph.spec import Graph, Node
from ..models.replay import ReplayProvider
from ..models.types import Usage
from .executor import attach, detach
from .spec import Agent, AgentError
from .trace import compact_trace

if TYPE_CHECKING:
    from ..project import Project
    from ..runtime.runtime import Runtime

_default_project: Project | None = None
_default_lock = threading.Lock()


def default_project() -> Project:
    """One project per process on the state directory, for ``Agent.run`` without a project."""
    global _default_project
    with _default_lock:
        if _default_project is None:
            from ..project import Project

            _default_project = Project()
        return _default_project


@dataclass(slots=True)
class AgentResult:
    agent: str
    answer: str
    run_id: str
    session_id: str
    status: str
    usage: Usage = field(default_factory=Usage)
    steps: int = 0
    error: str = ""
    note: str = ""
    log: Any = field(default=None, repr=False)
    _events: list[Event] | None = field(default=None, repr=False)

    @property
    def events(self) -> list[Event]:
        """The run's events, read from the log on first use."""
        if self._events is None:
            try:
                self._events = self.log.events(self.run_id) if self.log is not None else []
            except Exception as exc:
                raise AgentError(
                    f"the events of run {self.run_id[:12]} cannot be read ({type(exc).__name__})",
                    hint="read them while the project is open, or with `agentcore events RUN_ID`",
                ) from None
        return self._events

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def raise_for_status(self) -> AgentResult:
        if not self.ok:
            raise AgentError(self.error or f"agent {self.agent!r} {self.status}")
        return self

    def trace(self) -> str:
        """The compact, indented trace of the run."""
        return compact_trace(self.events)

    def summary(self) -> str:
        """The run's one-screen summary (the same as ``agentcore events`` would fold)."""
        from ..observability.summary import format_run_summary

        return format_run_summary(self.events)

    def __str__(self) -> str:
        return self.answer if self.ok else f"error: {self.error}"


def run(
    agent: Agent,
    request: str,
    *,
    project: Project | None = None,
    runtime: Runtime | None = None,
    session_id: str | None = None,
    stream: Callable[[str, str], None] | None = None,
    replay: str | ReplayProvider | None = None,
    replay_tools: bool = False,
    token: str | None = None,
) -> AgentResult:
    """Run ``agent`` on ``request``. A run that fails is a result (see ``AgentResult.status``); a run
    that is refused before it starts (a bad token, an invalid definition) raises.

    ``stream(node_id, text)`` receives answer text as it is generated. ``replay`` (a run id or a
    :class:`ReplayProvider`) answers every model call from that recorded run; ``replay_tools``
    replays tool results too, so nothing outside the process is called. ``token`` is the caller's
    identity token: every step then gets a token narrowed from it (sub-agents narrower still).
    """
    if not isinstance(agent, Agent):
        raise AgentError(f"expected an Agent, got {type(agent).__name__}")
    if not isinstance(request, str) or not request.strip():
        raise AgentError(f"agent {agent.name!r} needs a request (a non-empty string)")
    if runtime is None:
        runtime = (project or default_project()).runtime()
    assert runtime is not None
    override = None
    if isinstance(replay, ReplayProvider):
        override = replay
    elif isinstance(replay, str):
        override = ReplayProvider.from_log(runtime.log, replay, tools=replay_tools)
    elif replay is not None:
        raise AgentError("replay must be a run id or a ReplayProvider")
    graph = Graph(
        agent.name, [Node(agent.name, kind="agent", config={"agent": agent.to_config()})], output=agent.name
    )
    run_id = uuid.uuid4().hex
    attach(
        run_id,
        agent=agent,
        stream=stream,
        override=override,
        replay=override.recording if override is not None else None,
        replay_tools=bool(override is not None and (replay_tools or override.tools)),
    )
    try:
        result = runtime.run(graph, request, session_id=session_id, run_id=run_id, token=token)
    finally:
        detach(run_id)
    out = result.output if isinstance(result.output, dict) else {}
    error = ""
    if not result.ok:
        error = result.errors.get(agent.name) or next(iter(result.errors.values()), f"run {result.status}")
    made = AgentResult(agent.name, "", result.run_id, result.session_id, result.status, log=runtime.log)
    if out.get("usage") is not None:
        usage = Usage.from_dict(out["usage"])
    else:  # a failed run: what its AgentInvocationEvent says was used until it stopped
        finished = [
            e
            for e in made.events
            if e.type == "AgentInvocationEvent"
            and e.node_id == agent.name
            and getattr(e, "status", "") != "started"
        ]
        usage = Usage.from_dict(getattr(finished[-1], "usage", None)) if finished else Usage()
    made.answer = str(out.get("answer") or "")
    made.usage = usage
    made.steps = int(out.get("steps") or 0)
    made.error = error
    made.note = str(out.get("note") or "")
    return made


__all__ = ["AgentResult", "AgentcoreError", "default_project", "run"]
