"""Requests a frontend sends on the ``agentcore.graph`` comm, and the kernel's answers.

Each request is a JSON object with a ``type``; one that carries ``"id"`` gets an answer carrying
``"reply_to"`` with that id. A request that cannot be answered gets one ``error`` message (one line
saying what is wrong and what to send instead), never a traceback, and the comm keeps working.
Shapes: ``docs/kernel-protocol.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import AgentcoreError

if TYPE_CHECKING:
    from .comm import GraphChannel
    from .session import NotebookSession

Answer = tuple[str, dict[str, Any]]
#: Longest request id echoed back (a frontend's ids are short; anything longer is a mistake).
MAX_ID = 200


class RequestError(AgentcoreError):
    """A comm request the kernel cannot answer: its one-line ``error`` message."""


def session_of(channel: GraphChannel) -> NotebookSession:
    if channel.session is None:
        raise RequestError("this kernel has no notebook session; run %load_ext agentcore_nb first")
    return channel.session


def _refresh(channel: GraphChannel, data: dict[str, Any]) -> Answer:
    return "snapshot", channel.snapshot_fields()


def _runs(channel: GraphChannel, data: dict[str, Any]) -> Answer:
    from .comm_runs import MAX_RUNS, session_runs

    limit = data.get("limit", 50)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RUNS:
        raise RequestError(f"runs: limit must be an integer from 1 to {MAX_RUNS}, got {limit!r}")
    session = session_of(channel)
    return "runs", {"session": session.session_id, "runs": session_runs(session, limit)}


def _trace(channel: GraphChannel, data: dict[str, Any]) -> Answer:
    from .comm_runs import run_trace

    run_id = data.get("run_id")
    if not isinstance(run_id, str) or not run_id.strip():
        raise RequestError('trace needs "run_id": a run id string; ask for {"type": "runs"} first')
    return "trace", run_trace(session_of(channel), run_id.strip())


def _export(channel: GraphChannel, data: dict[str, Any]) -> Answer:
    from .comm_export import export_request

    return export_request(session_of(channel), data)


HANDLERS: dict[str, Callable[[GraphChannel, dict[str, Any]], Answer]] = {
    "refresh": _refresh,
    "runs": _runs,
    "trace": _trace,
    "export": _export,
}


def answer(channel: GraphChannel, data: Any) -> Answer:
    """The answer's ``type`` and fields for the request ``data`` (an ``error`` when it fails)."""
    reply: dict[str, Any] = {}
    request = "request"
    try:
        if not isinstance(data, dict):
            raise RequestError(
                f'a request is a JSON object with a "type", got {type(data).__name__}; '
                f"the kernel understands: {', '.join(HANDLERS)}"
            )
        rid = data.get("id")
        if rid is not None:
            if not isinstance(rid, str) or not rid or len(rid) > MAX_ID:
                raise RequestError(f'"id" must be a string of 1 to {MAX_ID} characters, got {rid!r:.60}')
            reply["reply_to"] = rid
        kind = data.get("type")
        handler = HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            raise RequestError(
                f"unknown request type {kind!r:.60}; the kernel understands: {', '.join(HANDLERS)}"
            )
        request = str(kind)
        type_, fields = handler(channel, data)
    except AgentcoreError as exc:
        return "error", {**reply, "error": one_line(str(exc))}
    except Exception as exc:  # a bug or a broken store: still one line, and the comm keeps working
        return "error", {**reply, "error": one_line(f"{request} failed: {type(exc).__name__}: {exc}")}
    return type_, {**reply, **fields}


def one_line(text: str) -> str:
    return " ".join(text.split()) or "unknown error"
