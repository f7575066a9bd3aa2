"""A run's trace as views: the widget's state (flat, tree-ordered rows on one time axis plus a
header), plain text, and the seed's one-line-per-span JSON. No Jupyter here: the notebook's widget
and the CLI both read these."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from . import conventions as conv
from .pricing import cost
from .store import SpanRecord

#: Attributes a row carries in the widget state (the rest is in the detail pane on request).
_ROW_LIMIT = 200


def _tokens(rec: SpanRecord) -> tuple[int, int]:
    a = rec.attributes
    return int(a.get(conv.INPUT_TOKENS, 0) or 0), int(a.get(conv.OUTPUT_TOKENS, 0) or 0)


def _model(rec: SpanRecord) -> str:
    a = rec.attributes
    return str(a.get(conv.RESPONSE_MODEL) or a.get(conv.REQUEST_MODEL) or "")


def is_model_call(rec: SpanRecord) -> bool:
    """A span whose tokens are its own (a chat or embeddings call); others' usage is a sum."""
    return rec.attributes.get(conv.OPERATION) in (conv.CHAT, conv.EMBEDDINGS)


def ordered(records: Sequence[SpanRecord]) -> list[tuple[SpanRecord, int]]:
    """Spans in tree order (depth first, children by start time) with their depth."""
    ids = {r.span_id for r in records}
    children: dict[str, list[SpanRecord]] = {}
    roots: list[SpanRecord] = []
    for r in sorted(records, key=lambda r: (r.start_ns, r.span_id)):
        if r.parent_id and r.parent_id in ids:
            children.setdefault(r.parent_id, []).append(r)
        else:
            roots.append(r)
    out: list[tuple[SpanRecord, int]] = []
    stack = [(r, 0) for r in reversed(roots)]
    while stack:
        rec, depth = stack.pop()
        out.append((rec, depth))
        stack.extend((c, depth + 1) for c in reversed(children.get(rec.span_id, ())))
    return out


def error_line(rec: SpanRecord) -> str:
    msg = rec.status_message or str(rec.attributes.get(conv.ERROR_TYPE, ""))
    return msg.splitlines()[0][:200] if msg else ""


def result_summary(rec: SpanRecord) -> str:
    """A short line for the span's outcome (the error, the captured result, or its usage)."""
    if rec.status == "error":
        return f"error: {error_line(rec)}"
    if rec.status == "running":
        return "running"
    result = rec.attributes.get(conv.TOOL_RESULT) or rec.attributes.get(conv.OUTPUT_MESSAGES)
    if isinstance(result, str) and result:
        return result[:120]
    tin, tout = _tokens(rec)
    if tin or tout:
        return f"ok, {tin} input + {tout} output tokens"
    retries = int(rec.attributes.get(conv.ATTEMPT, 1) or 1) - 1
    return f"ok after {retries} retr{'y' if retries == 1 else 'ies'}" if retries > 0 else "ok"


def compact_lines(records: Sequence[SpanRecord]) -> list[str]:
    """The seed's form: ``{"trace_id", "span", "duration_ms", "result_summary"}``, one per span."""
    return [
        json.dumps(
            {
                "trace_id": r.trace_id,
                "span": r.name,
                "duration_ms": None if r.duration_ms is None else round(r.duration_ms, 3),
                "result_summary": result_summary(r),
            }
        )
        for r, _ in ordered(records)
    ]


def _critical_path(rows: list[dict[str, Any]], children: dict[int, list[int]]) -> tuple[list[str], float]:
    """From the root's children: the chain of spans, each starting after the previous one ended,
    that ends last (what made the run as long as it was)."""
    if not rows:
        return [], 0.0
    kids = children.get(0, [])
    if not kids:
        return [rows[0]["name"]], rows[0]["duration"]
    ends = {i: rows[i]["start"] + rows[i]["duration"] for i in kids}
    cur = max(kids, key=lambda i: ends[i])
    path = [cur]
    while True:
        start = rows[cur]["start"]
        before = [i for i in kids if ends[i] <= start + 1e-6 and i not in path]
        if not before:
            break
        cur = max(before, key=lambda i: ends[i])
        path.append(cur)
    path.reverse()
    return [rows[i]["name"] for i in path], sum(rows[i]["duration"] for i in path)


def trace_state(records: Sequence[SpanRecord], *, now_ns: int | None = None) -> dict[str, Any]:
    """The widget's state: rows in tree order (times in ms from the trace start) and a header."""
    order = ordered(records)
    if not order:
        return {"rows": [], "header": {}, "t_max": 0.0}
    t0 = min(r.start_ns for r, _ in order)
    t_end = max((r.end_ns or now_ns or r.start_ns) for r, _ in order)
    index = {r.span_id: i for i, (r, _) in enumerate(order)}
    rows: list[dict[str, Any]] = []
    children: dict[int, list[int]] = {}
    for i, (r, depth) in enumerate(order):
        end = r.end_ns if r.end_ns is not None else (now_ns or t_end)
        parent = index.get(r.parent_id, -1)
        if parent >= 0:
            children.setdefault(parent, []).append(i)
        a = r.attributes
        kind = str(a.get(conv.NODE_KIND, ""))
        tin, tout = _tokens(r) if is_model_call(r) else (0, 0)
        model = _model(r)
        c = cost(model, tin, tout) if (tin or tout) and model else None
        rows.append(
            {
                "i": i,
                "id": r.span_id,
                "parent": parent,
                "depth": depth,
                "name": r.name,
                "group": conv.group_of(kind, str(a.get(conv.OPERATION, ""))),
                "start": (r.start_ns - t0) / 1e6,
                "duration": (end - r.start_ns) / 1e6,
                "status": "ok" if r.status == "unset" else r.status,
                "error": error_line(r) if r.status == "error" else "",
                "tokens_in": tin,
                "tokens_out": tout,
                "cost": c,
                "attempt": int(a.get(conv.ATTEMPT, 1) or 1),
            }
        )
    # Tokens and cost summed up the tree (own model calls plus every descendant's).
    for i in range(len(rows) - 1, -1, -1):
        row = rows[i]
        row["sum_in"] = row["tokens_in"] + sum(rows[k]["sum_in"] for k in children.get(i, ()))
        row["sum_out"] = row["tokens_out"] + sum(rows[k]["sum_out"] for k in children.get(i, ()))
        row["sum_cost"] = (row["cost"] or 0.0) + sum(rows[k]["sum_cost"] for k in children.get(i, ()))
    roots = [i for i, row in enumerate(rows) if row["parent"] < 0]
    path, path_ms = _critical_path(rows, children)
    kinds = Counter(
        str(r.attributes.get(conv.NODE_KIND)) for r, _ in order if r.attributes.get(conv.NODE_KIND)
    )
    header = {
        "trace_id": order[0][0].trace_id,
        "run_id": order[0][0].run_id,
        "name": order[0][0].name,
        "spans": len(rows),
        "wall_ms": (t_end - t0) / 1e6,
        "critical_path": path,
        "critical_path_ms": path_ms,
        "nodes_by_kind": dict(sorted(kinds.items())),
        "retries": sum(row["attempt"] - 1 for row in rows),
        "failures": sum(1 for row in rows if row["status"] == "error"),
        "running": sum(1 for row in rows if row["status"] == "running"),
        "tokens_in": sum(rows[i]["sum_in"] for i in roots),
        "tokens_out": sum(rows[i]["sum_out"] for i in roots),
        "cost": sum(rows[i]["sum_cost"] for i in roots),
    }
    return {"rows": rows, "header": header, "t_max": (t_end - t0) / 1e6}


def span_detail(rec: SpanRecord) -> dict[str, Any]:
    """What the detail pane shows for one span (attributes, events, and content if captured)."""
    attrs = dict(list(rec.attributes.items())[:_ROW_LIMIT])
    return {
        "id": rec.span_id,
        "name": rec.name,
        "status": rec.status,
        "error": error_line(rec),
        "duration_ms": rec.duration_ms,
        "attributes": attrs,
        "events": rec.events[:50],
    }


def format_trace(records: Sequence[SpanRecord], *, width: int = 40) -> str:
    """A plain-text trace: the header, then the tree with durations, status and a bar."""
    state = trace_state(records)
    rows, h = state["rows"], state["header"]
    if not rows:
        return "(no spans)"
    lines = [
        f"trace {h['trace_id']}  run {h['run_id']}  {h['spans']} spans  wall {h['wall_ms']:.1f} ms  "
        f"failures {h['failures']}  retries {h['retries']}  tokens {h['tokens_in']}+{h['tokens_out']}  "
        f"cost ${h['cost']:.4f}",
        "critical path: " + " -> ".join(h["critical_path"]) + f" ({h['critical_path_ms']:.1f} ms)",
    ]
    scale = width / state["t_max"] if state["t_max"] > 0 else 0.0
    for row in rows:
        a = int(row["start"] * scale)
        b = max(a + 1, int((row["start"] + row["duration"]) * scale))
        bar = " " * a + "#" * (b - a)
        mark = {"error": "x", "running": "~"}.get(row["status"], " ")
        label = ("  " * row["depth"] + row["name"])[:48]
        extra = f"  {row['error']}" if row["error"] else ""
        lines.append(f"{mark} {label:<48} {row['duration']:>9.1f} ms |{bar:<{width}}|{extra}")
    return "\n".join(lines)
