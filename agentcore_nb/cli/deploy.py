"""``agentcore deploy BUNDLE_DIR --env ENV [--local]``, ``agentcore status``, ``agentcore destroy``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from . import app


@app.command("deploy")
def deploy_cmd(
    bundle: Annotated[Path, typer.Argument(help="The bundle directory (agentcore export -o DIR).")],
    env: Annotated[str, typer.Option("--env", help="The environment ([env.NAME] in agentcore.toml).")],
    local: Annotated[bool, typer.Option("--local", help="Start it here as its container would.")] = False,
    config: Annotated[Path | None, typer.Option("--config", help="Settings file (./agentcore.toml).")] = None,
    out: Annotated[Path | None, typer.Option("--output", "-o", help="Where to write it.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="With --local: another port.")] = None,
) -> None:
    """Write the deployable form of BUNDLE_DIR for ENV (Dockerfile, settings, start command)."""
    from ..home import state_dir
    from ..serve.deploy import write_deployment
    from ..serve.local import start_local

    target = write_deployment(bundle, env, config=config, out=out)
    typer.echo(f"wrote {target} (Dockerfile, settings.json, command.json, bundle/)")
    if local:
        record = start_local(target, state_dir(), port=port)
        typer.echo(
            f"{record['name']} running at {record['url']} (pid {record['pid']}; agentcore destroy {record['name']})"
        )


@app.command("status")
def status_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Local deployments: running or stopped, their URL and /ping status."""
    from ..home import state_dir
    from ..serve.local import status

    found = status(state_dir())
    if as_json:
        typer.echo(json.dumps(found))
        return
    if not found:
        typer.echo("no local deployments (agentcore deploy BUNDLE --env ENV --local)")
    for r in found:
        typer.echo(f"{r['name']:30s} {r['state']:8s} {r['url']:28s} pid {r['pid']:<8d} {r['ping']}")


@app.command("destroy")
def destroy_cmd(
    name: Annotated[str | None, typer.Argument(help="The deployment (agentcore status).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every local deployment.")] = False,
) -> None:
    """Stop a local deployment (SIGTERM: it drains in-flight requests, then exits)."""
    from ..errors import AgentcoreError
    from ..home import state_dir
    from ..serve.local import destroy, status

    home = state_dir()
    if all_:
        names = [r["name"] for r in status(home)]
    elif name:
        names = [name]
    else:
        raise AgentcoreError("name a deployment, or --all", hint="agentcore status lists them")
    for n in names:
        typer.echo(destroy(home, n))
