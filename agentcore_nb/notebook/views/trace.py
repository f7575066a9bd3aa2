"""The trace widget: a run's spans from the project's span store as an interactive view.

State (synced to the front end): ``rows`` (tree-ordered spans on one time axis, from
:func:`trace_state`), ``header``, ``t_max``; the front end sets ``selected`` and gets ``detail``.
A run still in progress is followed: a thread re-reads the store (and the open spans) until no span
is running. Without widget support the display bundle's ``text/plain`` is the plain-text trace.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ...errors import AgentcoreError
from ...observability.pricing import load_prices
from ...observability.store import SpanRecord, run_subtree
from ...observability.traceview import format_trace, span_detail, trace_state

_HERE = Path(__file__).parent
#: Seconds between re-reads of a run in progress, and how long a run is followed at most.
POLL = 0.5
FOLLOW_FOR = 600.0


class TraceWidget(anywidget.AnyWidget):  # type: ignore[misc]
    _esm = _HERE / "trace_front.js"
    _css = _HERE / "trace.css"

    run_id = traitlets.Unicode("").tag(sync=True)
    rows: traitlets.List[Any] = traitlets.List([]).tag(sync=True)
    header = traitlets.Dict({}).tag(sync=True)
    t_max = traitlets.Float(0.0).tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    detail = traitlets.Dict({}).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)

    def __init__(self, tracing: Any = None, run_id: str = "", records: list[SpanRecord] | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        records = records if records is not None else load(tracing, run_id)
        # the first state goes out with comm_open, so a frontend draws the trace at once
        super().__init__(run_id=run_id, **_state(records, run_id), **kwargs)
        self._tracing = tracing
        self._records: dict[str, SpanRecord] = {r.span_id: r for r in records}
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None
        if self.header.get("running"):
            self.follow()

    def set_records(self, records: list[SpanRecord]) -> None:
        self._records = {r.span_id: r for r in records}
        with self.hold_sync():
            for key, value in _state(records, self.run_id).items():
                setattr(self, key, value)
            if self.selected in self._records:
                self.detail = span_detail(self._records[self.selected])

    def refresh(self) -> None:
        self.set_records(load(self._tracing, self.run_id))

    @traitlets.observe("selected")
    def _on_select(self, change: dict[str, Any]) -> None:
        rec = self._records.get(change["new"])
        self.detail = span_detail(rec) if rec is not None else {}

    # -- live
    def follow(self) -> None:
        """Re-read the run until none of its spans is running (in a background thread)."""
        if self._follower is not None and self._follower.is_alive():
            return

        def loop() -> None:
            deadline = time.monotonic() + FOLLOW_FOR
            while not self._stop.wait(POLL) and time.monotonic() < deadline:
                try:
                    self.refresh()
                except Exception:
                    return  # the project closed: keep what is shown
                if not self.header.get("running"):
                    return

        self._follower = threading.Thread(target=loop, name="agentcore-trace-follow", daemon=True)
        self._follower.start()

    def close(self) -> None:
        self._stop.set()
        super().close()

    # -- frontends without widget support
    def text(self) -> str:
        if not self._records:
            return self.message or "(no spans)"
        return format_trace(list(self._records.values()))

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if isinstance(data, dict):
            data["text/plain"] = self.text()
        return bundle


def load(tracing: Any, run_id: str) -> list[SpanRecord]:
    """A run's spans: the stored ones plus those still open (a run in progress)."""
    if tracing is None or not run_id:
        return []
    tracing.flush(5.0)
    records: list[SpanRecord] = tracing.store.spans(run_id)
    traces = {r.trace_id for r in records}
    done = {r.span_id for r in records}
    for rec in tracing.processor.open_spans():
        if rec.span_id not in done and (rec.trace_id in traces or rec.run_id == run_id):
            records.append(rec)
    return run_subtree(records, run_id)


def _state(records: list[SpanRecord], run_id: str) -> dict[str, Any]:
    state = trace_state(records, now_ns=time.time_ns())
    return {
        "rows": state["rows"],
        "t_max": state["t_max"],
        "header": state["header"],
        "message": "" if records else f"no spans recorded for run {run_id or '(none)'}",
    }


def trace_view(session: Any, run_id: str | None = None) -> TraceWidget:
    """The widget for ``run_id`` (default: the session's last run); a clear error for an unknown run."""
    project = session.project
    load_prices(project.home / "prices.json")
    run = run_id or getattr(session, "last_run_id", "")
    if not run:
        raise AgentcoreError(
            "no run in this session yet", hint="run %agent or %graph run first, or give %trace RUN_ID"
        )
    tracing = project.tracing
    tracing.flush(5.0)
    found = tracing.store.run_ids_like(run)
    open_runs = {r.run_id for r in tracing.processor.open_spans()}
    if run not in found and run not in open_runs:
        if len(found) == 1:
            run = found[0]
        else:
            raise AgentcoreError(
                f"no trace recorded for run {run!r}"
                + (" (the prefix matches several runs)" if found else ""),
                hint="`agentcore traces list` shows the runs with traces",
            )
    return TraceWidget(tracing, run)
