"""Replay: answer model calls (and optionally tool calls) from a recorded run in the event log.

A run's ``reason`` nodes record their response as their node output, and its tool nodes record
their result, both keyed by node id (``support/step-2``, ``support/step-1-1-getOrderStatus``).
Replaying the same agent or graph asks for the same node ids, so the recorded answers come back
in order with no provider reachable. When the replayed run takes another path (the recorded
response calls a tool the agent no longer has, a live tool returns something other than what was
recorded, more steps are asked for than were recorded), a :class:`ReplayDivergence` names the step.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from typing import Any

from ..errors import AgentcoreError
from ..eventlog.base import EventLog
from ..events import Event
from ..values import decode_value
from .types import KIND_REPLAY, ChatResponse, ModelError, Provider

_STEP = re.compile(r"step-(\d+)")


class ReplayDivergence(ModelError):
    """The replayed run left the recorded path; ``step`` and ``node_id`` say where."""

    def __init__(self, run_id: str, node_id: str, message: str) -> None:
        self.run_id = run_id
        self.node_id = node_id
        found = _STEP.findall(node_id)
        self.step = int(found[-1]) if found else 0
        where = f"step {self.step} ({node_id})" if self.step else node_id or "the start"
        super().__init__(
            f"replay of run {run_id[:12]} diverged at {where}: {message}",
            hint="the agent, its tools or their results changed since the recording",
        )


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


class Recording:
    """The final output (or error) of every node of one recorded run, by node id."""

    def __init__(self, run_id: str, events: Iterable[Event]) -> None:
        self.run_id = run_id
        self.outputs: dict[str, Any] = {}
        self.errors: dict[str, str] = {}
        self.kinds: dict[str, str] = {}
        self.order: list[str] = []
        for e in events:
            if not e.node_id:
                continue
            if e.type == "NodeStarted":
                self.kinds[e.node_id] = getattr(e, "kind", "")
                if e.node_id not in self.order:
                    self.order.append(e.node_id)
            elif e.type == "NodeSucceeded":
                self.outputs[e.node_id] = getattr(e, "output", None)
                self.errors.pop(e.node_id, None)
            elif e.type == "NodeFailed" and getattr(e, "final", False):
                self.errors[e.node_id] = getattr(e, "error", "failed")
        self.reason_nodes = [n for n in self.order if self.kinds.get(n) == "reason"]
        if not self.reason_nodes:
            raise ModelError(f"run {run_id[:12]} made no model calls; there is nothing to replay")

    @classmethod
    def from_log(cls, log: EventLog, run_id: str) -> Recording:
        resolve = getattr(log, "resolve_run_id", None)
        try:
            full = resolve(run_id) if callable(resolve) else run_id
        except AgentcoreError as exc:
            raise ModelError(exc.message, hint=exc.hint) from None
        events = log.events(full)
        if not events:
            raise ModelError(f"no run '{run_id}' in the event log", hint="see `agentcore runs`")
        return cls(full, events)

    def response(self, node_id: str) -> ChatResponse:
        if node_id in self.errors:
            raise ModelError(f"{node_id} (replayed): {self.errors[node_id]}")
        if node_id not in self.outputs or self.kinds.get(node_id) != "reason":
            recorded = len(self.reason_nodes)
            raise ReplayDivergence(
                self.run_id, node_id, f"no model call was recorded there (the recording has {recorded})"
            )
        data = decode_value(self.outputs[node_id])
        if not isinstance(data, dict):
            raise ReplayDivergence(self.run_id, node_id, "the recorded output is not a model response")
        return ChatResponse.from_dict(data)

    def tool_result(self, node_id: str) -> tuple[bool, Any]:
        """``(True, output)`` or ``(False, error)`` as recorded for a tool (or sub-agent) node."""
        if node_id in self.errors:
            return False, self.errors[node_id]
        if node_id not in self.outputs:
            raise ReplayDivergence(self.run_id, node_id, "no tool call was recorded there")
        return True, decode_value(self.outputs[node_id])

    def check_tool(self, node_id: str, ok: bool, value: Any) -> None:
        """Raise :class:`ReplayDivergence` when a live tool result differs from the recording."""
        if node_id not in self.outputs and node_id not in self.errors:
            raise ReplayDivergence(self.run_id, node_id, "this tool call was not in the recording")
        rec_ok, recorded = self.tool_result(node_id)
        if rec_ok != ok:
            was = "succeeded" if rec_ok else f"failed ({recorded})"
            raise ReplayDivergence(
                self.run_id, node_id, f"the tool {'succeeded' if ok else 'failed'} but {was} in the recording"
            )
        if ok and _canon(recorded) != _canon(value):
            raise ReplayDivergence(
                self.run_id,
                node_id,
                f"the tool returned {_canon(value)[:120]}, the recording has {_canon(recorded)[:120]}",
            )


class ReplayProvider(Provider):
    """Answers from a :class:`Recording`. ``tools=True`` also replays tool results (no tool runs)."""

    name = "replay"
    kind = KIND_REPLAY

    def __init__(self, recording: Recording, *, tools: bool = False) -> None:
        self.recording = recording
        self.tools = tools
        self.model = recording.run_id
        self._next = 0
        self._lock = threading.Lock()

    @classmethod
    def from_log(cls, log: EventLog, run_id: str, *, tools: bool = False) -> ReplayProvider:
        return cls(Recording.from_log(log, run_id), tools=tools)

    def _chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int | None,
        key: str | None,
    ) -> ChatResponse:
        if key is None:  # outside a run: the recorded calls in order
            with self._lock:
                if self._next >= len(self.recording.reason_nodes):
                    raise ReplayDivergence(
                        self.recording.run_id, "", f"more model calls than the {self._next} recorded"
                    )
                key = self.recording.reason_nodes[self._next]
                self._next += 1
        response = self.recording.response(key)
        offered = {t["name"] for t in tools}
        for call in response.tool_calls:
            if not call.error and call.name not in offered:
                raise ReplayDivergence(
                    self.recording.run_id,
                    key,
                    f"the recorded response calls tool '{call.name}', which is not offered now "
                    f"(offered: {', '.join(sorted(offered)) or 'none'})",
                )
        return response

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "replays_tools": self.tools}
