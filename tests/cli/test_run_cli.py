"""The ``agentcore`` command, as a user runs it: exit codes, one-line errors, JSON output."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import procs

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "notebooks" / "demo-graph.json"


def agentcore(*args: str, env: dict[str, str], check: bool = False) -> subprocess.CompletedProcess[str]:
    out = procs.cli(env, *args, timeout=120)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def one_error_line(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode != 0
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in out.stderr
    return lines[0]


def test_run_list_and_events(subprocess_env: dict[str, str]) -> None:
    out = agentcore(
        "run",
        str(DEMO),
        "--input",
        '{"order_id": "1234", "question": "Where is 1234?"}',
        env=subprocess_env,
        check=True,
    )
    answer = json.loads(out.stdout)
    assert "delivered" in answer and "found 3 related refund events" in answer
    assert "support-demo  succeeded" in out.stderr and "answer" in out.stderr

    runs = agentcore("runs", "--json", env=subprocess_env, check=True)
    (run,) = [json.loads(line) for line in runs.stdout.splitlines()]
    assert run["graph"] == "support-demo" and run["status"] == "succeeded" and run["nodes_succeeded"] == 4

    events = agentcore("events", run["run_id"][:6], env=subprocess_env, check=True)
    types = [json.loads(line)["type"] for line in events.stdout.splitlines()]
    assert types[0] == "RunProvisioned" and types[-2:] == ["RunExecuted", "RunVanished"]
    assert types.count("NodeSucceeded") == 4
    only = agentcore("events", run["run_id"], "--type", "NodeSucceeded", env=subprocess_env, check=True)
    assert len(only.stdout.splitlines()) == 4

    table = agentcore("runs", env=subprocess_env, check=True)
    assert run["run_id"] in table.stdout and "succeeded" in table.stdout


def test_failing_run_exits_non_zero(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    graph = tmp_path / "fail.json"
    graph.write_text(
        json.dumps({"agentcore_graph": 1, "name": "f", "nodes": [{"name": "x", "config": {"code": "1/0"}}]})
    )
    out = agentcore("run", str(graph), env=subprocess_env)
    assert out.returncode == 1
    assert "ZeroDivisionError: division by zero" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ('{"agentcore_graph": 1, "name": "x", "nodes": [', "malformed JSON at line 1"),
        (
            '{"agentcore_graph": 1, "name": "x", "nodes": [{"name": "a", "kind": "wizard", "config": {}}]}',
            "node 'a': unknown kind 'wizard'",
        ),
        (
            '{"agentcore_graph": 1, "name": "x", "nodes": [{"name": "a", "after": ["b"], "config": {"code": "1"}}, {"name": "b", "after": ["a"], "config": {"code": "1"}}]}',
            "cycle: ",
        ),
        (
            '{"agentcore_graph": 1, "name": "x", "nodes": [{"name": "a", "config": {"code": "1"}, "policy": {"retries": "many"}}]}',
            "node 'a': policy.retries: 'many' is not of type 'integer'",
        ),
    ],
)
def test_bad_graphs_get_one_clear_line(
    tmp_path: Path, subprocess_env: dict[str, str], doc: str, message: str
) -> None:
    graph = tmp_path / "bad.json"
    graph.write_text(doc)
    line = one_error_line(agentcore("run", str(graph), env=subprocess_env))
    assert message in line
    assert "bad.json" in line or "graph 'x'" in line


def test_bad_input_and_unknown_run(subprocess_env: dict[str, str]) -> None:
    assert "--input is not valid JSON" in one_error_line(
        agentcore("run", str(DEMO), "--input", "{oops", env=subprocess_env)
    )
    assert "no run 'deadbeef'" in one_error_line(agentcore("events", "deadbeef", env=subprocess_env))
    assert "no run 'deadbeef'" in one_error_line(agentcore("resume", "deadbeef", env=subprocess_env))
    assert "does not exist" in one_error_line(agentcore("run", "/nonexistent.json", env=subprocess_env))


def test_corrupt_event_log_is_one_line_and_untouched(
    subprocess_env: dict[str, str], agentcore_home: Path
) -> None:
    db = agentcore_home / "agentcore.duckdb"
    db.write_bytes(b"garbage" * 1000)
    line = one_error_line(agentcore("runs", env=subprocess_env))
    assert "not a readable DuckDB database" in line
    assert db.read_bytes() == b"garbage" * 1000


def test_validate_schema_and_help(subprocess_env: dict[str, str]) -> None:
    out = agentcore("graph", "validate", str(DEMO), env=subprocess_env, check=True)
    assert "ok: graph 'support-demo' with 4 nodes" in out.stdout
    schema = json.loads(agentcore("graph", "schema", env=subprocess_env, check=True).stdout)
    assert schema["properties"]["agentcore_graph"] == {"const": 1, "description": "Format version."}
    for command in (
        ["run"],
        ["runs"],
        ["events"],
        ["resume"],
        ["graph", "validate"],
        ["graph", "schema"],
        [],
    ):
        help_out = agentcore(*command, "--help", env=subprocess_env, check=True)
        assert "Usage:" in help_out.stdout


def test_notebook_runs_are_listed_beside_graph_runs_with_their_cells_and_session(
    subprocess_env: dict[str, str],
) -> None:
    from tests.helpers.kernel import running_kernel

    question = '{"order_id": "1234", "question": "Where is 1234?"}'
    agentcore("run", str(DEMO), "--input", question, env=subprocess_env, check=True)
    with running_kernel("agentcore", env=subprocess_env) as k:
        for code in ("a = 1", "b = a + 1", "%%node total\nc = a + b", "%graph run --only total"):
            assert k.execute(code).status == "ok", code
        session = k.execute("print(get_ipython()._agentcore_session.session_id)").stdout.strip()
        k.client.stop_channels()
        k.km.shutdown_kernel(now=False)  # a clean shutdown closes the notebook run
    runs = [
        json.loads(line)
        for line in agentcore("runs", "--json", env=subprocess_env, check=True).stdout.splitlines()
    ]
    kinds = [(r["kind"], r["graph"]) for r in runs]
    assert kinds == [("graph", "support-demo"), ("notebook", "notebook"), ("graph", "notebook")]
    notebook = runs[1]
    assert notebook["status"] == "succeeded" and notebook["session_id"] == session  # closed at shutdown
    table = agentcore("runs", env=subprocess_env, check=True).stdout
    assert table.splitlines()[0].split()[:3] == ["RUN", "KIND", "GRAPH"] and " notebook " in table

    cells = agentcore("events", notebook["run_id"], "--type", "NodeStarted", env=subprocess_env, check=True)
    order = [json.loads(line)["node_id"] for line in cells.stdout.splitlines()]
    assert order[:3] == ["cell_1", "cell_2", "total"] and order[3].startswith("control-")

    everything = agentcore("events", "--session", session, env=subprocess_env, check=True)
    lines = [json.loads(line) for line in everything.stdout.splitlines()]
    assert {e["run_id"] for e in lines} == {notebook["run_id"], runs[2]["run_id"]}  # the cell's child run too
    assert [e["seq"] for e in lines] == sorted(e["seq"] for e in lines)
    child = next(e for e in lines if e["type"] == "RunProvisioned" and e["run_id"] == runs[2]["run_id"])
    assert child["parent_run_id"] == notebook["run_id"] and child["parent_node_id"] == order[3]

    assert "no session 'nope'" in one_error_line(agentcore("events", "--session", "nope", env=subprocess_env))
    assert "one of them" in one_error_line(agentcore("events", env=subprocess_env))
