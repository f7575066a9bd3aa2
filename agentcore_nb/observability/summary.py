"""A one-screen summary of a run, folded from its events (used by the CLI and the notebook)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..events import Event


@dataclass(slots=True)
class NodeRow:
    node: str
    kind: str = ""
    status: str = "pending"  # pending | running | succeeded | failed | skipped | rerouted
    attempts: int = 0
    duration_ms: float = 0.0
    note: str = ""


def node_rows(events: Iterable[Event]) -> list[NodeRow]:
    """Per-node status in first-seen order (child nodes appear as ``parent/child``)."""
    rows: dict[str, NodeRow] = {}
    for e in events:
        if not e.node_id or not e.type.startswith("Node"):
            continue
        row = rows.get(e.node_id)
        if row is None:
            row = rows[e.node_id] = NodeRow(e.node_id)
        t = e.type
        if t == "NodeStarted":
            row.kind = getattr(e, "kind", row.kind)
            row.attempts = max(row.attempts, getattr(e, "attempt", 1))
            row.status = "running"
        elif t == "NodeSucceeded":
            row.kind = getattr(e, "kind", row.kind)
            row.status = "succeeded"
            row.duration_ms += getattr(e, "duration_ms", 0.0)
            via = getattr(e, "via", "")
            if via:
                row.note = f"via fallback {via}"
        elif t == "NodeFailed":
            row.duration_ms += getattr(e, "duration_ms", 0.0)
            if getattr(e, "final", True):
                row.status = "failed"
                row.note = getattr(e, "error", "")
        elif t == "NodeSkipped":
            row.status = "skipped"
            row.note = getattr(e, "reason", "")
        elif t == "NodeRerouted":
            row.status = "rerouted"
            row.note = f"-> {getattr(e, 'fallback', '')}: {getattr(e, 'error', '')}"
    return list(rows.values())


def format_run_summary(events: list[Event], width: int = 100) -> str:
    """Plain text: a header line with the run's status, then one line per node."""
    run_id = next((e.run_id for e in events if e.run_id), "?")
    status = "incomplete"
    duration = 0.0
    graph = ""
    for e in events:
        if e.type == "RunProvisioned":
            graph = getattr(e, "graph_name", "")
        elif e.type == "RunExecuted":
            status = getattr(e, "status", status)
            duration = getattr(e, "duration_ms", 0.0)
        elif e.type == "RunResumed":
            status = "incomplete"
    lines = [f"run {run_id}  graph {graph}  {status}  {duration:.1f} ms  {len(events)} events"]
    rows = node_rows(events)
    name_w = min(32, max([4, *(len(r.node) for r in rows)]))
    for r in rows:
        note = f"  {r.note}" if r.note else ""
        line = (
            f"  {r.node:<{name_w}}  {r.kind:<7} {r.status:<9} x{r.attempts:<2} {r.duration_ms:9.1f} ms{note}"
        )
        lines.append(line if len(line) <= width else line[: width - 3] + "...")
    return "\n".join(lines)
