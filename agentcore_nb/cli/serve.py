"""``agentcore serve BUNDLE_DIR`` and ``agentcore invoke PAYLOAD``: the AgentCore Runtime contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from . import app


@app.command("serve")
def serve_cmd(
    bundle: Annotated[Path, typer.Argument(help="The bundle directory (agentcore export -o DIR).")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (AgentCore's is 8080).")] = 8080,
    workers: Annotated[int, typer.Option("--workers", help="Runs executing at once.")] = 16,
    body_limit: Annotated[int, typer.Option("--body-limit", help="Largest request body, bytes.")] = 100
    * 1024
    * 1024,
    session_idle: Annotated[
        float, typer.Option("--session-idle", help="Idle timeout of a session, s.")
    ] = 900.0,
    session_max: Annotated[
        float, typer.Option("--session-max-lifetime", help="Maximum lifetime of a session, s.")
    ] = 8 * 3600.0,
    drain: Annotated[float, typer.Option("--drain-timeout", help="On SIGTERM, wait this long, s.")] = 30.0,
    backend: Annotated[
        str, typer.Option("--backend", help="local, or ray (independent nodes as Ray tasks).")
    ] = "local",
    address: Annotated[
        str, typer.Option("--address", help="Ray cluster address (default: a local Ray).")
    ] = "",
    require_auth: Annotated[
        bool, typer.Option("--require-auth", help="Require a bearer token on loopback too.")
    ] = False,
    jwks_url: Annotated[
        str, typer.Option("--jwks-url", help="Accept JWTs of the issuer with this JWKS.")
    ] = "",
    audience: Annotated[str, typer.Option("--audience", help="The audience those JWTs must name.")] = "",
    issuer: Annotated[str, typer.Option("--issuer", help="The issuer those JWTs must name (optional).")] = "",
) -> None:
    """Serve BUNDLE_DIR over HTTP: POST /invocations, GET /ping (until SIGTERM, which drains)."""
    from ..serve.config import AuthConfig, ServeConfig
    from ..serve.server import serve

    config = ServeConfig(
        bundle=bundle,
        host=host,
        port=port,
        workers=workers,
        body_limit=body_limit,
        session_idle=session_idle,
        session_max_lifetime=session_max,
        drain_timeout=drain,
        backend=backend,
        ray_address=address,
        auth=AuthConfig(required=require_auth, jwks_url=jwks_url, audience=audience, issuer=issuer),
    )
    serve(config)


@app.command("invoke")
def invoke_cmd(
    payload: Annotated[str, typer.Argument(help="The request body: JSON, or @file.json.")],
    url: Annotated[str, typer.Option("--url", help="The served agent.")] = "http://127.0.0.1:8080",
    session_id: Annotated[str | None, typer.Option("--session-id", help="The runtime session.")] = None,
    stream: Annotated[bool, typer.Option("--stream", help="Print streamed events as they come.")] = False,
    token: Annotated[
        str | None, typer.Option("--token", help="Bearer token.", envvar="AGENTCORE_TOKEN")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the answer.")] = 300.0,
) -> None:
    """POST PAYLOAD to URL/invocations and print the JSON result (or the streamed events, one per line)."""
    from ..serve.client import invoke
    from .runs import parse_json_option

    value = parse_json_option(payload, "PAYLOAD")

    def show(event: object) -> None:
        typer.echo(json.dumps(event, ensure_ascii=False))

    result = invoke(
        value,
        url=url,
        session_id=session_id,
        token=token,
        stream=stream,
        timeout=timeout,
        on_event=show if stream else None,
    )
    if isinstance(result, list) and stream:
        return
    typer.echo(json.dumps(result, ensure_ascii=False, indent=None if stream else 2))
