"""The trace widget follows a run in progress: running spans first, then the finished trace."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from agentcore_nb import Graph
from agentcore_nb.errors import AgentcoreError
from agentcore_nb.notebook.session import NotebookSession
from agentcore_nb.notebook.views.trace import TraceWidget, trace_view
from agentcore_nb.project import Project


def test_a_run_in_progress_updates_live(agentcore_home: Path) -> None:
    release, started = threading.Event(), threading.Event()

    def slow() -> int:
        started.set()
        assert release.wait(60)
        return 1

    g = Graph("live")
    g.node("quick", lambda: 0)
    g.node("slow", slow, after=["quick"])
    with Project(agentcore_home) as project:
        runtime = project.runtime()
        box: dict = {}
        thread = threading.Thread(target=lambda: box.update(r=runtime.run(g, run_id="live-run")))
        thread.start()
        assert started.wait(60)
        view = TraceWidget(project.tracing, "live-run")
        statuses = {r["name"]: r["status"] for r in view.rows}
        assert statuses["invoke_workflow live"] == "running" and statuses["execute_node slow"] == "running"
        assert view.header["running"] == 2
        done = threading.Event()
        view.observe(lambda change: done.set() if not change["new"].get("running") else None, "header")
        release.set()
        thread.join(60)
        assert done.wait(60)  # the follower saw the run finish
        assert {r["status"] for r in view.rows} == {"ok"}
        assert len(view.rows) == 3
        view.close()


def test_trace_view_without_runs_or_with_a_bad_id(agentcore_home: Path) -> None:
    with Project(agentcore_home) as project:
        session = NotebookSession(project)
        with pytest.raises(AgentcoreError, match="no run in this session yet"):
            trace_view(session)
        with pytest.raises(AgentcoreError, match="no trace recorded for run 'nope'"):
            trace_view(session, "nope")
