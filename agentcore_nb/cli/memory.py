"""``agentcore memory add|search|list|forget|stats|rebuild``: the project's long-term memory."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from ..errors import AgentcoreError
from . import app

memory_app = typer.Typer(help="Long-term memory: add, search, forget, rebuild.", no_args_is_help=True)
app.add_typer(memory_app, name="memory")

Namespace = Annotated[
    str | None, typer.Option("--namespace", "-n", help="Namespace (a prefix ends with '/').")
]


def _open() -> Any:
    from ..memory import Memory

    return Memory.open()


def _filters(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        found = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AgentcoreError(
            f"--filter is not JSON: {exc.msg}", hint='e.g. --filter \'{"kind": "refund"}\''
        ) from None
    return found  # type: ignore[no-any-return]


@memory_app.command("add")
def add(
    text: Annotated[str, typer.Argument(help="What to remember.")],
    namespace: Annotated[str, typer.Option("--namespace", "-n")] = "default",
    metadata: Annotated[str | None, typer.Option("--metadata", "-m", help="JSON object.")] = None,
    actor: Annotated[str | None, typer.Option(help="Who said it.")] = None,
) -> None:
    """Add one record; prints its id."""
    meta = _filters(metadata)
    with _open() as memory:
        typer.echo(memory.add(text, namespace=namespace, metadata=meta, actor=actor).id)


@memory_app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="Query text.")],
    k: Annotated[int, typer.Option("-k", help="How many results.")] = 5,
    namespace: Namespace = None,
    filter: Annotated[str | None, typer.Option("--filter", help="Metadata filter (JSON).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    recall: Annotated[
        float | None, typer.Option(help="Recall target for this search (store's default 0.99).")
    ] = None,
    ef: Annotated[
        int | None, typer.Option(help="hnswlib search effort, overriding the recall target.")
    ] = None,
) -> None:
    """Top-k records by similarity."""
    with _open() as memory:
        hits = memory.search(query, k=k, namespace=namespace, filters=_filters(filter), recall=recall, ef=ef)
    if as_json:
        for h in hits:
            typer.echo(json.dumps(h.to_dict()))
        return
    for h in hits:
        typer.echo(f"{h.score:6.3f}  {h.record.namespace:<20} {h.record.id[:12]}  {h.record.text}")


@memory_app.command("list")
def list_(namespace: Namespace = None, limit: Annotated[int, typer.Option("--limit")] = 20) -> None:
    """The newest records."""
    with _open() as memory:
        for r in memory.list(namespace=namespace, limit=limit):
            typer.echo(f"{r.id[:12]}  {r.namespace:<20} {r.text}")


@memory_app.command("forget")
def forget(record_id: Annotated[str, typer.Argument(help="Record id.")]) -> None:
    """Tombstone a record (kept in history, gone from results)."""
    with _open() as memory:
        memory.forget(record_id)
    typer.echo(f"forgot {record_id}")


@memory_app.command("stats")
def stats() -> None:
    """Counts per namespace, embedder, index, search effort (ef, recall target, last measured recall)."""
    with _open() as memory:
        typer.echo(json.dumps(memory.stats(), indent=2))


@memory_app.command("rebuild")
def rebuild() -> None:
    """Rebuild the records table and the HNSW index from the event log."""
    with _open() as memory:
        live = memory.rebuild()
    typer.echo(f"rebuilt: {live} live records")
