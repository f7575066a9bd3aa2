"""``agentcore traces list | show``: read runs' traces from the project's span store."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from ..db import Database
from ..home import database_path, state_dir
from ..observability.pricing import load_prices
from ..observability.store import SpanRecord, SpanStore, TraceNotFoundError
from ..observability.traceview import compact_lines, format_trace, trace_state
from . import app

traces_app = typer.Typer(
    help="Read the traces of runs (spans recorded in the project).", no_args_is_help=True
)
app.add_typer(traces_app, name="traces")


def resolve_run(store: SpanStore, run_id: str) -> str:
    """The run id itself, or the one run that starts with it; a clear error otherwise."""
    found = store.run_ids_like(run_id)
    if run_id in found:
        return run_id
    if len(found) == 1:
        return found[0]
    if found:
        raise TraceNotFoundError(f"run id prefix {run_id!r} is ambiguous ({', '.join(found[:3])}, ...)")
    raise TraceNotFoundError(
        f"no trace recorded for run {run_id!r}",
        hint="`agentcore traces list` shows the runs with traces (spans are recorded when no "
        "OpenTelemetry SDK of your own is configured)",
    )


def load_trace(store: SpanStore, run_id: str) -> list[SpanRecord]:
    return store.spans(resolve_run(store, run_id))


@traces_app.command("list")
def list_traces(
    limit: Annotated[int, typer.Option(help="Show the newest N runs.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Runs with a recorded trace, newest first."""
    db = Database.open(database_path())
    try:
        runs = SpanStore(db).runs(limit)
    finally:
        db.close()
    if as_json:
        for r in runs:
            typer.echo(json.dumps(r))
        return
    if not runs:
        typer.echo("no traces recorded yet", err=True)
        return
    typer.echo(f"{'run':<34} {'started':<19} {'ms':>10} {'spans':>6} {'errors':>6}  root")
    for r in runs:
        started = datetime.fromtimestamp(r["start_ns"] / 1e9).strftime("%Y-%m-%d %H:%M:%S")
        ms = "running" if r["duration_ms"] is None else f"{r['duration_ms']:.1f}"
        typer.echo(f"{r['run_id']:<34} {started:<19} {ms:>10} {r['spans']:>6} {r['errors']:>6}  {r['name']}")


@traces_app.command("show")
def show_trace(
    run_id: Annotated[str, typer.Argument(help="Run id (or a unique prefix).")],
    as_json: Annotated[bool, typer.Option("--json", help="Every span as JSON, plus the header.")] = False,
    compact: Annotated[
        bool, typer.Option("--compact", help='One line per span: {"trace_id", "span", "duration_ms", ...}.')
    ] = False,
) -> None:
    """A run's trace: span tree with durations, status and a timeline (or JSON)."""
    load_prices(state_dir() / "prices.json")
    db = Database.open(database_path())
    try:
        store = SpanStore(db)
        records = load_trace(store, run_id)
        skipped = store.skipped
    finally:
        db.close()
    if skipped:
        typer.echo(f"warning: {skipped} span row(s) could not be read and were left out", err=True)
    if compact:
        for line in compact_lines(records):
            typer.echo(line)
    elif as_json:
        header = trace_state(records)["header"]
        typer.echo(json.dumps({"header": header, "spans": [r.to_dict() for r in records]}, default=str))
    else:
        typer.echo(format_trace(records))
