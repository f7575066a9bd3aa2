"""Serve a graph on a topic: each request's payload is the graph's input, its output the reply.

Used by ``agentcore mesh worker`` (a graph file or an exported bundle) and by ``%mesh serve`` (a
notebook agent). Every handled message is a run on the project's runtime, started inside the
consumer's span, so the worker's run joins the trace of the agent that asked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import AgentcoreError
from .message import MeshMessage

Runner = Callable[[Any, MeshMessage], Any]


def graph_runner(graph: Any, runtime: Any) -> Runner:
    """Run ``graph`` on ``runtime`` per message; a failed run raises (so the bus retries it)."""

    def run(payload: Any, message: MeshMessage) -> Any:
        result = runtime.run(graph, payload, session_id=message.correlation_id or message.message_id)
        return result.raise_for_status().output

    return run


def agent_runner(agent: Any, project: Any) -> Runner:
    """Run a notebook agent per message: the payload is the request text, or ``{"request": ...}``."""

    def run(payload: Any, message: MeshMessage) -> Any:
        request = payload.get("request") if isinstance(payload, dict) else payload
        if not isinstance(request, str) or not request.strip():
            raise AgentcoreError('an agent worker takes a request text, or {"request": "..."}')
        result = agent.run(request, project=project, session_id=message.correlation_id or None)
        result.raise_for_status()
        return {"answer": result.answer, "agent": agent.name, "run_id": result.run_id}

    return run


def load_target(path: Path) -> Any:
    """A graph from a graph file (``"agentcore_graph": 1``); a clear error for anything else."""
    from ..graph.codec import load_graph

    if path.is_dir():
        raise AgentcoreError(
            f"{path} is a directory, and this agentcore-nb serves graph files only",
            hint="pass a graph JSON file",
        )
    if not path.exists():
        raise AgentcoreError(f"{path} does not exist")
    try:
        json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise AgentcoreError(f"{path} is not a graph file ({exc})") from None
    return load_graph(path)
