"""``agentcore run | runs | events | resume | graph``: run graph files and read the event log."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import AgentcoreError
from ..eventlog.duckdb import DuckDBEventLog
from ..graph.codec import graph_schema, load_graph
from ..home import database_path
from ..observability.summary import format_run_summary
from ..observability.tracing import tracing_for
from ..runtime.runtime import RunResult, Runtime
from . import app

graph_app = typer.Typer(help="Validate graph files and show the graph JSON Schema.", no_args_is_help=True)
app.add_typer(graph_app, name="graph")


def parse_json_option(text: str | None, what: str = "--input") -> Any:
    """``--input '{"a": 1}'`` or ``--input @file.json``; a clear error for malformed JSON."""
    if text is None:
        return None
    source = what
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise AgentcoreError(f"{what}: cannot read {path}: {exc.strerror}") from None
        source = f"{what} file {path}"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AgentcoreError(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            hint='quote it for the shell, e.g. --input \'{"order_id": "1234"}\'',
        ) from None


def _print_result(result: RunResult, log: DuckDBEventLog) -> None:
    typer.echo(json.dumps(result.output, indent=2, default=repr))
    typer.echo(format_run_summary(log.events(result.run_id)), err=True)


@app.command()
def run(
    graph: Annotated[
        Path, typer.Argument(help='Graph file (JSON, "agentcore_graph": 1), or `local` BUNDLE_DIR|NOTEBOOK.')
    ],
    source: Annotated[
        Path | None, typer.Argument(help="With `local`: a bundle directory or a notebook (.ipynb).")
    ] = None,
    input: Annotated[
        str | None, typer.Option("--input", "-i", help="Run input as JSON, or @FILE with JSON.")
    ] = None,
    session: Annotated[
        str | None, typer.Option("--session", "--session-id", help="Session id (default: the run id).")
    ] = None,
    durability: Annotated[str, typer.Option(help="async (group commit) or sync.")] = "async",
    as_json: Annotated[bool, typer.Option("--json", help="(local) Print one JSON object.")] = False,
    backend: Annotated[str, typer.Option("--backend", help="(local) local, or ray.")] = "local",
    address: Annotated[str, typer.Option("--address", help="(local) Ray address (default: local Ray).")] = "",
) -> None:
    """Run a graph file locally; print its output, then a one-screen summary of its events.

    `agentcore run local BUNDLE_DIR|NOTEBOOK.ipynb [--input JSON] [--session-id S]` runs an exported
    bundle (or a notebook, exported to a temporary bundle first) in this process, no kernel.
    """
    if str(graph) == "local" and not graph.is_file():
        if source is None:
            raise AgentcoreError(
                "run local needs a bundle directory or a notebook", hint="agentcore run local DIR"
            )
        from .export import run_local_cmd

        run_local_cmd(source, input, session, as_json, backend=backend, address=address)
        return
    if source is not None:
        raise AgentcoreError(
            f"unexpected argument {source}", hint="agentcore run GRAPH.json, or agentcore run local DIR"
        )
    g = load_graph(graph)
    value = parse_json_option(input)
    with (
        tracing_for(database_path()) as tracing,
        Runtime.durable(durability=durability, tracer_provider=tracing.switching) as rt,
    ):
        result = rt.run(g, value, session_id=session)
        _print_result(result, rt.log)  # type: ignore[arg-type]
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def resume(run_id: Annotated[str, typer.Argument(help="Run id (or a unique prefix).")]) -> None:
    """Resume an interrupted or failed run: committed successes are kept, failed and skipped nodes
    run again. A run that succeeded or was cancelled is final."""
    with tracing_for(database_path()) as tracing, Runtime.durable(tracer_provider=tracing.switching) as rt:
        full = rt.log.resolve_run_id(run_id)
        result = rt.resume(full)
        if result.resumed:
            typer.echo(f"resumed {full}: {len(result.resumed)} committed node(s) kept", err=True)
        _print_result(result, rt.log)  # type: ignore[arg-type]
    if not result.ok:
        raise typer.Exit(1)


def _ts(value: float | None) -> str:
    return datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


@app.command("runs")
def list_runs(
    limit: Annotated[int, typer.Option(help="Show the newest N runs.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List runs in the project's event log, newest last."""
    with DuckDBEventLog(database_path()) as log:
        runs = log.runs()[-limit:] if limit > 0 else log.runs()
    if as_json:
        for r in runs:
            typer.echo(json.dumps(r.to_dict()))
        return
    if not runs:
        typer.echo("no runs yet (try: agentcore run GRAPH.json)")
        return
    typer.echo(
        f"{'RUN':<34} {'KIND':<8} {'GRAPH':<20} {'STATUS':<10} {'STARTED':<19} {'NODES':>5} {'EVENTS':>6}"
    )
    for r in runs:
        typer.echo(
            f"{r.run_id:<34} {r.kind:<8} {r.graph_name[:20]:<20} {r.status:<10} {_ts(r.started):<19} "
            f"{r.nodes_succeeded:>5} {r.events:>6}"
        )


@app.command()
def events(
    run_id: Annotated[str | None, typer.Argument(help="Run id (or a unique prefix).")] = None,
    type: Annotated[
        list[str] | None, typer.Option("--type", "-t", help="Only events of this type (repeatable).")
    ] = None,
    session: Annotated[
        str | None,
        typer.Option("--session", "-s", help="Every event of this session (all its runs), in order."),
    ] = None,
) -> None:
    """Print a run's (or a session's) events as JSON lines, in order.

    A notebook's run (kind ``notebook``) lists its cells in the order they ran; ``--session`` adds
    the runs its cells started (agents, ``%graph run``).
    """
    if (run_id is None) == (session is None):
        raise AgentcoreError(
            "give a run id or --session SESSION_ID (one of them)", hint="list runs with `agentcore runs`"
        )
    with DuckDBEventLog(database_path()) as log:
        if session is not None:
            found = log.events(types=type or None, session_id=session)
            if not found and not log.events(session_id=session):
                raise AgentcoreError(f"no session '{session}' in the event log")
        else:
            assert run_id is not None
            found = log.events(log.resolve_run_id(run_id), types=type or None)
        for e in found:
            typer.echo(e.to_json())


@graph_app.command("validate")
def graph_validate(graph: Annotated[Path, typer.Argument(help="Graph file to check.")]) -> None:
    """Check a graph file: schema, kinds, dependencies, cycles, policies."""
    g = load_graph(graph)
    typer.echo(f"ok: graph '{g.name}' with {len(g)} nodes and {len(g.edges())} edges")


@graph_app.command("schema")
def graph_schema_cmd() -> None:
    """Print the JSON Schema of graph files."""
    typer.echo(json.dumps(graph_schema(), indent=2))
