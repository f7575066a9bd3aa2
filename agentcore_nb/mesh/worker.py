"""Serve a graph on a topic: each request's payload is the graph's input, its output the reply.

Used by ``agentcore mesh worker`` (a graph file or an exported bundle) and by ``%mesh serve`` (a
notebook agent). Every handled message is a run on the project's runtime, started inside the
consumer's span, so the worker's run joins the trace of the agent that asked.
"""

from __future__ import annotations

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
        return {"answer": result.answer, "agent": agent.name}

    return run


def bundle_runner(path: Path, project: Any) -> Runner:
    """Run an exported bundle per message (payload = the notebook's parameters, as ``run local --input``).

    The bundle is checked against its manifest and loaded once; each message is a run on the
    project's runtime, and the reply is what ``run local`` prints: the output cell's value.
    """
    from ..export.bundle import load_bundle
    from ..export.runner import LoadedBundle, jsonable, result_value

    loaded = LoadedBundle(load_bundle(path), project)  # the runner `run local` and `serve` use

    def run(payload: Any, message: MeshMessage) -> Any:
        session = message.correlation_id or message.message_id
        result = loaded.run(payload, session_id=session).raise_for_status()
        return jsonable(result_value(result.output))

    return run


def target_runner(path: Path, project: Any) -> Runner:
    """A runner for an exported bundle (a directory) or a graph file; a clear error for anything else."""
    from ..graph.codec import load_graph

    if path.is_dir():
        return bundle_runner(path, project)
    if not path.exists():
        raise AgentcoreError(
            f"{path} does not exist", hint="pass a bundle directory (agentcore export) or a graph file"
        )
    return graph_runner(load_graph(path), project.runtime())
