"""``agentcore agent run`` as a user runs it: on the showcase notebook, on a graph file, and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat

from agentcore_nb import Graph, save_graph
from agentcore_nb.agent import Agent
from agentcore_nb.project import Project

from .conftest import getOrderStatus

REPO = Path(__file__).resolve().parents[2]
SHOWCASE = REPO / "notebooks" / "00-showcase.ipynb"


def agentcore(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentcore_nb.cli", "agent", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_run_the_showcase_notebook_headless(subprocess_env) -> None:
    out = agentcore(
        "run", str(SHOWCASE), "--agent", "support", "--prompt", "Where is my order 1234?", env=subprocess_env
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == 'Answer to "Where is my order 1234?":'
    assert lines[1] == "- getOrderStatus(order_id=1234): status delivered, timestamp 2025-10-12T09:33Z"
    assert any(ln.startswith("trace  succeeded") for ln in lines)
    assert "  invoke_agent support" in out.stdout
    assert lines[-1].startswith("run ") and "agentcore events" in lines[-1]
    assert "Traceback" not in out.stderr and "WARNING" not in out.stderr


def test_run_an_agent_node_of_a_graph_file_then_replay_it(
    tmp_path: Path, subprocess_env, agentcore_home: Path
) -> None:
    with Project(agentcore_home) as project:
        project.services["gateway"].register_function(getOrderStatus)
    agent = Agent("support", "You help customers.", tools=["getOrderStatus"])
    g = Graph("exported")
    g.node("helpdesk", kind="agent", config={"agent": agent.to_config()})
    path = tmp_path / "graph.json"
    save_graph(g, path)
    out = agentcore(
        "run",
        str(path),
        "--agent",
        "support",
        "--prompt",
        "Where is my order 77?",
        "--json",
        env=subprocess_env,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["status"] == "succeeded" and result["steps"] == 2
    assert "getOrderStatus(order_id=77): status delivered" in result["answer"]
    again = agentcore(
        "run", str(path), "-a", "helpdesk", "-p", "Where is my order 77?", "--replay", result["run_id"][:8], "--replay-tools",
        env=subprocess_env,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(result["answer"] + "\n")
    assert "(replayed)" in again.stdout


def test_errors_are_one_line(tmp_path: Path, subprocess_env) -> None:
    bad_nb = tmp_path / "bad.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")])
    nbformat.write(nb, bad_nb)
    empty_nb = tmp_path / "empty.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("nothing here")]), empty_nb)
    graph = tmp_path / "g.json"
    save_graph(Graph("plain", []), graph)
    cases = [
        (("run", str(tmp_path / "missing.ipynb"), "-a", "x", "-p", "hi"), "error: no such file"),
        (("run", str(bad_nb), "-a", "x", "-p", "  "), "error: --prompt is empty"),
        (
            ("run", str(bad_nb), "-a", "x", "-p", "hi", "--replay-tools"),
            "error: --replay-tools needs --replay RUN_ID",
        ),
        (("run", str(tmp_path), "-a", "x", "-p", "hi"), "is neither a notebook"),
        (("run", str(graph), "-a", "x", "-p", "hi"), "error: graph 'plain' has no agent node"),
        (
            ("run", str(bad_nb), "-a", "x", "-p", "hi"),
            "error: bad.ipynb cell 1 (1 / 0) failed: ZeroDivisionError: division by zero",
        ),
        (
            ("run", str(empty_nb), "-a", "nobody", "-p", "hi"),
            "error: no agent named 'nobody' (defined: none yet)",
        ),
    ]
    for args, message in cases:
        out = agentcore(*args, env=subprocess_env)
        assert out.returncode != 0, args
        assert message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
