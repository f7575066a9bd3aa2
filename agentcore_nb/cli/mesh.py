"""``agentcore mesh worker | send | request | status``: agents on the event bus (docs/mesh.md)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import AgentcoreError
from . import app
from .runs import parse_json_option

mesh_app = typer.Typer(help="Agents collaborating over an event bus (AgentMesh).", no_args_is_help=True)
app.add_typer(mesh_app, name="mesh")

RedisOption = Annotated[
    str | None,
    typer.Option(
        "--redis", help="Redis URL (redis://HOST:PORT); default $AGENTCORE_MESH_URL, else in-process."
    ),
]


def _bus(url: str | None, name: str | None = None) -> Any:
    from ..mesh import open_bus

    return open_bus(url, name=name)


def _payload(text: str | None) -> Any:
    return parse_json_option(text, "payload") if text is not None else None


@mesh_app.command()
def worker(
    target: Annotated[
        Path, typer.Argument(help="An exported bundle directory (agentcore export) or a graph file.")
    ],
    topic: Annotated[str, typer.Option("--topic", "-t", help="Topic to serve, e.g. kitchen.grill.")],
    redis: RedisOption = None,
    group: Annotated[
        str, typer.Option(help="Consumer group: workers in one group share the topic.")
    ] = "workers",
    name: Annotated[str | None, typer.Option(help="This worker's consumer name (default: random).")] = None,
    max_deliveries: Annotated[int, typer.Option(help="Deliveries before a message is dead-lettered.")] = 3,
    claim_idle: Annotated[
        float, typer.Option(help="Seconds before a message a dead worker took is claimed by another.")
    ] = 30.0,
) -> None:
    """Serve TARGET on TOPIC until SIGTERM or Ctrl-C: each message's payload is the run's input."""
    from ..mesh.worker import target_runner
    from ..project import Project

    project = Project.current()
    try:
        runner = target_runner(target, project)
    except BaseException:
        project.close()
        raise
    bus = _bus(redis, name)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    sub = bus.subscribe(
        topic,
        runner,
        group=group,
        consumer=name,
        max_deliveries=max_deliveries,
        claim_idle_s=claim_idle,
    )
    typer.echo(
        f"worker {sub.consumer} serving {target.name} on {topic} (group {group}, {bus.backend.name})",
        err=True,
    )
    try:
        while not stop.wait(0.5):
            if not sub.alive:
                raise AgentcoreError("the worker's consumer stopped")
    finally:
        bus.close()
        project.close()
    typer.echo(f"worker {sub.consumer} stopped: {sub.handled} handled, {sub.failures} failed", err=True)


@mesh_app.command()
def send(
    topic: Annotated[str, typer.Argument(help="Topic to publish on.")],
    payload: Annotated[str | None, typer.Argument(help="JSON payload, or @FILE.")] = None,
    redis: RedisOption = None,
    key: Annotated[str, typer.Option(help="Idempotency key (a redelivery is applied once).")] = "",
) -> None:
    """Publish one message; prints its message id."""
    bus = _bus(redis)
    try:
        typer.echo(bus.publish(topic, _payload(payload), key=key))
    finally:
        bus.close()


@mesh_app.command()
def request(
    topic: Annotated[str, typer.Argument(help="Topic a worker serves.")],
    payload: Annotated[str | None, typer.Argument(help="JSON payload, or @FILE.")] = None,
    redis: RedisOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the reply.")] = 30.0,
    key: Annotated[str, typer.Option(help="Idempotency key.")] = "",
) -> None:
    """Publish and wait for the reply; prints it as JSON."""
    bus = _bus(redis)
    try:
        typer.echo(json.dumps(bus.request(topic, _payload(payload), timeout=timeout, key=key), indent=2))
    finally:
        bus.close()


@mesh_app.command()
def status(
    redis: RedisOption = None,
    prefix: Annotated[str, typer.Option(help="Only topics starting with this.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Topics, their length, consumer groups, pending messages and dead letters."""
    bus = _bus(redis)
    try:
        stats = bus.status(prefix)
    finally:
        bus.close()
    if as_json:
        typer.echo(json.dumps(stats, indent=2))
        return
    if not stats:
        typer.echo("no topics", err=True)
        return
    for topic, info in stats.items():
        groups = ", ".join(
            f"{g}: {v['pending']} pending, {len(v['consumers'])} consumer(s)"
            for g, v in info["groups"].items()
        )
        typer.echo(f"{topic}  {info['length']} message(s)" + (f"  [{groups}]" if groups else ""))
    sys.stdout.flush()
