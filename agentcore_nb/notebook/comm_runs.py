"""The ``runs`` and ``trace`` answers of the ``agentcore.graph`` comm: a session's runs from the
event log, one run's spans from the span store (the data the ``%trace`` widget draws)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..eventlog.base import RunSummary, summarize_runs
from ..observability import conventions as conv
from ..observability.store import SpanRecord
from ..observability.traceview import trace_state
from .comm_requests import RequestError

if TYPE_CHECKING:
    from ..project import Project
    from .session import NotebookSession

#: Most runs one ``runs`` answer lists.
MAX_RUNS = 1000
#: The events that say what a run is and how it ended (enough for a summary, cheap to read).
RUN_EVENTS = ("RunProvisioned", "RunResumed", "RunExecuted", "RunVanished")


def _status(summary: RunSummary) -> str:
    """``running`` | ``succeeded`` | ``failed`` | ``cancelled``."""
    if summary.status == "incomplete":
        return "cancelled" if summary.ended is not None else "running"
    return summary.status


def _kind(event: Any) -> str:
    """The run's kind; a graph run of a single agent node (``%agent``) is an ``agent`` run."""
    kind = str(getattr(event, "kind", "") or "graph")
    nodes = (getattr(event, "graph", None) or {}).get("nodes") or []
    if kind == "graph" and len(nodes) == 1 and isinstance(nodes[0], dict) and nodes[0].get("kind") == "agent":
        return "agent"
    return kind


def _summaries(project: Project, *, session_id: str | None = None, run_id: str | None = None) -> tuple[
    list[RunSummary], dict[str, str]
]:  # fmt: skip
    log = project.event_log
    log.flush()
    events = log.events(run_id, session_id=session_id, types=RUN_EVENTS)
    summaries = summarize_runs(events)
    by_run = {s.run_id: s for s in summaries}
    parents = {}
    for e in events:
        if e.type == "RunProvisioned":
            parents[e.run_id] = getattr(e, "parent_run_id", "")
            by_run[e.run_id].kind = _kind(e)
    return summaries, parents


def _span_counts(project: Project, run_ids: list[str]) -> dict[str, int]:
    tracing = project.tracing
    tracing.flush(5.0)
    counts = tracing.store.span_counts(run_ids)
    wanted = set(run_ids)
    for rec in tracing.processor.open_spans():
        if rec.run_id in wanted:
            counts[rec.run_id] = counts.get(rec.run_id, 0) + 1
    return counts


def session_runs(session: NotebookSession, limit: int) -> list[dict[str, Any]]:
    """The session's runs (its notebook run, ``%graph run``, ``%agent`` ...), newest first."""
    project = session.project
    summaries, parents = _summaries(project, session_id=session.session_id)
    summaries.sort(key=lambda s: s.started, reverse=True)
    chosen = summaries[:limit]
    counts = _span_counts(project, [s.run_id for s in chosen])
    return [
        {
            "run_id": s.run_id,
            "kind": s.kind,
            "name": s.graph_name,
            "status": _status(s),
            "started_at": s.started,
            "ended_at": s.ended,
            "parent_run_id": parents.get(s.run_id) or None,
            "span_count": counts.get(s.run_id, 0),
        }
        for s in chosen
    ]


def _span(rec: SpanRecord, row: dict[str, Any], present: set[str]) -> dict[str, Any]:
    return {
        "span_id": rec.span_id,
        "parent_span_id": rec.parent_id if rec.parent_id in present else None,
        "name": rec.name,
        "start_ms": row["start"],
        "duration_ms": rec.duration_ms,
        "status": "unset" if rec.status == "running" else rec.status,
        "kind": str(rec.attributes.get(conv.NODE_KIND, "")),
        "attributes": rec.attributes,
        # what the %trace widget draws beside the bars
        "depth": row["depth"],
        "group": row["group"],
        "error": row["error"],
        "attempt": row["attempt"],
        "tokens_in": row["tokens_in"],
        "tokens_out": row["tokens_out"],
        "cost": row["cost"],
    }


def run_trace(session: NotebookSession, run_id: str) -> dict[str, Any]:
    """One run's spans (its subtree, open spans included) in the widget's tree order."""
    from .views.trace import load

    project = session.project
    records = load(project.tracing, run_id)
    summaries, _ = _summaries(project, run_id=run_id)
    if not records and not summaries:
        raise RequestError(f'unknown run {run_id!r:.80}; ask for {{"type": "runs"}} first')
    if summaries:
        status = _status(summaries[0])
    else:  # spans without run events (an OTLP import): judge by the spans
        status = "running" if any(r.end_ns is None for r in records) else "succeeded"
    state = trace_state(records, now_ns=time.time_ns())
    by_id = {r.span_id: r for r in records}
    present = set(by_id)
    return {
        "run_id": run_id,
        "status": status,
        "spans": [_span(by_id[row["id"]], row, present) for row in state["rows"]],
        "header": state["header"],
    }
