"""The span store on a real project: the exact span tree of the acceptance run, token sums, the
CLI, content capture and secrets, corrupt rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agentcore_nb.cli import app
from agentcore_nb.observability import conventions as conv
from agentcore_nb.observability.store import SpanRecord
from agentcore_nb.observability.traceview import compact_lines, is_model_call, trace_state
from agentcore_nb.project import Project

from . import scenario

CONTENT_KEYS = {conv.INPUT_MESSAGES, conv.OUTPUT_MESSAGES, conv.TOOL_ARGUMENTS, conv.TOOL_RESULT}


@pytest.fixture
def project(agentcore_home: Path):
    with Project(agentcore_home) as p:
        yield p


def _tree(records: list[SpanRecord]) -> list[tuple[str, str | None]]:
    by_id = {r.span_id: r for r in records}
    return sorted((r.name, by_id[r.parent_id].name if r.parent_id else None) for r in records)


def test_acceptance_span_tree_attributes_and_tokens(project: Project, monkeypatch) -> None:
    monkeypatch.delenv(conv.CONTENT_ENV, raising=False)
    result = scenario.run(project)
    assert result.errors == {"charge": "chargeCard raised RuntimeError: card declined"}
    records = project.tracing.store.spans(result.run_id)
    assert len({r.trace_id for r in records}) == 1
    chat = "chat offline-reasoner"
    assert _tree(records) == sorted(
        [
            ("invoke_workflow support", None),
            ("execute_node fetch_a", "invoke_workflow support"),
            ("execute_node fetch_b", "invoke_workflow support"),
            ("execute_node flaky", "invoke_workflow support"),
            ("execute_tool charge", "invoke_workflow support"),
            ("execute_tool chargeCard", "execute_tool charge"),
            ("invoke_agent support", "invoke_workflow support"),
            (chat, "invoke_agent support"),
            # the offline reasoner matches tools by embedding (request and tool texts, once each)
            ("embeddings hash-384", chat),
            ("embeddings hash-384", chat),
            ("embeddings hash-384", chat),
            ("execute_tool step-1-1-getOrderStatus", "invoke_agent support"),
            ("execute_tool getOrderStatus", "execute_tool step-1-1-getOrderStatus"),
            ("invoke_agent billing", "invoke_agent support"),
            (chat, "invoke_agent billing"),
            (chat, "invoke_agent support"),
        ]
    )
    by_name = {r.name: r for r in records}
    root = by_name["invoke_workflow support"]
    assert root.attributes[conv.OPERATION] == conv.INVOKE_WORKFLOW
    assert root.attributes[conv.RUN_ID] == result.run_id
    assert root.attributes[conv.CONVERSATION] == root.attributes[conv.SESSION_ID] == "sess-trace"
    assert root.status == "error"
    assert all(r.run_id == result.run_id for r in records)  # component spans inherit the run
    a, b = by_name["execute_node fetch_a"], by_name["execute_node fetch_b"]
    assert a.start_ns < b.end_ns and b.start_ns < a.end_ns  # parallel branches overlap
    flaky = by_name["execute_node flaky"]
    assert flaky.status != "error" and flaky.attributes[conv.ATTEMPT] == 2
    assert [e["name"] for e in flaky.events] == ["retry"]
    charge, card = by_name["execute_tool charge"], by_name["execute_tool chargeCard"]
    assert charge.attributes[conv.NODE_KIND] == "tool" and charge.attributes[conv.TOOL_NAME] == "chargeCard"
    assert card.status == "error" and "card declined" in card.status_message
    assert card.attributes[conv.ERROR_TYPE] == "ToolTargetError"
    support = by_name["invoke_agent support"]
    assert support.attributes[conv.AGENT_NAME] == "support"
    assert support.attributes[conv.NODE_KIND] == "agent"
    assert by_name["invoke_agent billing"].attributes[conv.AGENT_NAME] == "billing"
    chats = [r for r in records if r.name == chat]
    assert all(r.attributes[conv.OPERATION] == conv.CHAT and r.attributes[conv.PROVIDER] for r in chats)
    assert all(r.attributes[conv.INPUT_TOKENS] > 0 for r in chats)
    # tokens sum up the tree: the agent's usage is its model calls', sub-agent included
    assert support.attributes[conv.INPUT_TOKENS] == sum(r.attributes[conv.INPUT_TOKENS] for r in chats)
    assert support.attributes[conv.OUTPUT_TOKENS] == sum(r.attributes[conv.OUTPUT_TOKENS] for r in chats)
    state = trace_state(records)
    header = state["header"]
    assert header["tokens_in"] == sum(r.attributes[conv.INPUT_TOKENS] for r in records if is_model_call(r))
    rows = {row["name"]: row for row in state["rows"]}
    # the row sums every model call under the agent: its chats' usage plus the embeddings' tokens
    embeddings = [r for r in records if r.name == "embeddings hash-384"]
    assert all(r.attributes[conv.OPERATION] == conv.EMBEDDINGS and r.attributes[conv.INPUT_TOKENS] > 0
               for r in embeddings)  # fmt: skip
    assert rows["invoke_agent support"]["sum_in"] == support.attributes[conv.INPUT_TOKENS] + sum(
        r.attributes[conv.INPUT_TOKENS] for r in embeddings
    )
    assert header["retries"] == 1 and header["nodes_by_kind"]["agent"] == 2
    assert rows["execute_tool chargeCard"]["error"].endswith("card declined")
    # no content unless opted in
    assert not any(CONTENT_KEYS & r.attributes.keys() for r in records)
    # the seed's compact form
    first = json.loads(compact_lines(records)[0])
    assert first["trace_id"] == root.trace_id and first["span"] == "invoke_workflow support"
    assert first["result_summary"] == "error: failed nodes: charge"


def test_cli_lists_and_shows_traces(project: Project, agentcore_home: Path) -> None:
    result = scenario.run(project)
    runner = CliRunner()
    listed = runner.invoke(app, ["traces", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output.splitlines()[0])["run_id"] == result.run_id
    shown = runner.invoke(app, ["traces", "show", result.run_id[:8]])
    assert (
        shown.exit_code == 0 and "execute_tool chargeCard" in shown.output and "card declined" in shown.output
    )
    compact = runner.invoke(app, ["traces", "show", result.run_id, "--compact"])
    lines = [json.loads(line) for line in compact.output.splitlines()]
    assert {"trace_id", "span", "duration_ms", "result_summary"} == set(lines[0])
    assert len(lines) == 16  # 13 node and component spans + 3 embeddings of the offline reasoner
    full = json.loads(runner.invoke(app, ["traces", "show", result.run_id, "--json"]).output)
    assert full["header"]["spans"] == 16 and len(full["spans"]) == 16


def test_cli_unknown_run_is_one_clear_line(agentcore_home: Path) -> None:
    import subprocess
    import sys

    from agentcore_nb.cli import main

    out = subprocess.run(
        [sys.executable, "-c", "from agentcore_nb.cli import main; main()", "traces", "show", "nope"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1
    assert out.stderr.strip().startswith("error: no trace recorded for run 'nope'")
    assert len(out.stderr.strip().splitlines()) == 1 and callable(main)


def test_corrupt_span_row_is_skipped_with_a_warning(project: Project) -> None:
    result = scenario.run(project)
    cur = project.database.cursor()
    cur.execute(
        "UPDATE spans SET attributes = '{not json' WHERE name = 'execute_node fetch_a' AND run_id = ?",
        [result.run_id],
    )
    cur.close()
    store = project.tracing.store
    records = store.spans(result.run_id)
    assert store.skipped == 1 and len(records) == 15  # 16 spans, one unreadable
    out = CliRunner().invoke(app, ["traces", "show", result.run_id])
    assert out.exit_code == 0 and "1 span row(s) could not be read" in out.output


def test_content_only_when_opted_in_capped_and_no_secret_stored(project: Project, monkeypatch) -> None:
    monkeypatch.setenv(conv.CONTENT_ENV, "1")
    identity = project.services["identity"]
    caller = identity.issue("bot", "tool:echoSecret", ttl=60, session="s")
    api_key = "sk-live-0123456789abcdefXYZ"
    seen: list[str] = []

    def echoSecret(order_id: str, api_key: str, blob: str) -> dict:
        """Echo an order id (and leak what it was given)."""
        return {"order_id": order_id, "password": "hunter2-hunter2", "auth": f"Bearer {api_key}"}

    def grab(ctx: Any) -> str:
        seen.append(ctx.token)
        return "ok"

    project.services["gateway"].register_function(echoSecret)
    from agentcore_nb import Graph

    g = Graph("leaky")
    g.node("grab", grab, metadata={"scopes": ["tool:echoSecret"]})
    g.node(
        "echo",
        kind="tool",
        config={
            "tool": "echoSecret",
            "arguments": {"order_id": "1234", "api_key": api_key, "blob": "x" * 100_000},
        },
        metadata={"scopes": ["tool:echoSecret"]},
    )
    result = project.runtime().run(g, None, token=caller, session_id="s")
    assert result.ok, result.errors
    assert project.tracing.flush()
    records = project.tracing.store.spans(result.run_id)
    call = next(r for r in records if r.name == "execute_tool echoSecret")
    args = call.attributes[conv.TOOL_ARGUMENTS]
    assert '"order_id": "1234"' in args and len(args) <= conv.CONTENT_CAP + 40
    assert "1234" in call.attributes[conv.TOOL_RESULT]
    secrets = [caller, api_key, "hunter2-hunter2", *[t for t in seen if t]]
    assert len(secrets) >= 4
    rows = project.database.cursor().execute("SELECT * FROM spans").fetchall()
    dump = json.dumps([list(map(str, r)) for r in rows])
    for secret in secrets:
        assert secret not in dump
    events = project.event_log.events(result.run_id)
    text = "\n".join(e.to_json() for e in events)
    for token in [caller, *seen]:  # identity tokens: nowhere in the log
        assert token not in text
    # tool I/O in the log's ActionEvent is scrubbed too (node outputs stay: resume needs them)
    action = "\n".join(e.to_json() for e in events if e.type == "ActionEvent")
    assert "tool:echoSecret" in action and "1234" in action
    for secret in (api_key, "hunter2-hunter2"):
        assert secret not in action


def test_agentcore_run_records_its_trace(subprocess_env: dict[str, str]) -> None:
    import subprocess
    import sys

    graph = Path(__file__).resolve().parents[2] / "notebooks" / "demo-graph.json"
    cli = [sys.executable, "-c", "from agentcore_nb.cli import main; main()"]
    ran = subprocess.run(
        [*cli, "run", str(graph), "--input", '{"order_id": "1234"}'],
        capture_output=True,
        text=True,
        env=subprocess_env,
    )
    assert ran.returncode in (0, 1), ran.stderr
    listed = subprocess.run(
        [*cli, "traces", "list", "--json"], capture_output=True, text=True, env=subprocess_env
    )
    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert row["name"] == "invoke_workflow support-demo" and row["spans"] >= 2


def test_spans_that_keep_coming_are_written_in_batches_without_a_flush(tmp_path: Path) -> None:
    """Cells run back to back end a span every few ms, with no pause: the spans are still written
    (one batch once the oldest is ``max_age`` old), not held in memory until the stream stops."""
    import time

    from opentelemetry.sdk.trace import TracerProvider

    from agentcore_nb.db import Database
    from agentcore_nb.observability.store import SpanStore, StoreSpanProcessor

    db = Database.open(tmp_path / "spans.duckdb")
    store = SpanStore(db)
    processor = StoreSpanProcessor(store, max_age=0.1)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    ended = 0
    deadline = time.monotonic() + 60
    try:
        while processor._written == 0:  # no flush: only the writer's own schedule writes
            assert time.monotonic() < deadline, "no span was written while spans kept coming"
            with tracer.start_as_current_span("execute_node cell", attributes={conv.RUN_ID: "r1"}):
                pass
            ended += 1
            time.sleep(0.002)  # the pace of cells run back to back
        written = processor._written
        assert 0 < written <= ended
        assert processor.force_flush(30000)
        rows = store._query("SELECT count(*), count(DISTINCT span_id) FROM spans WHERE run_id = 'r1'", [])
        assert rows[0] == (ended, ended)
    finally:
        processor.shutdown()
        db.close()
