"""``agentcore gateway register|list|show|call|search|remove|serve-mcp``: the project's tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import AgentcoreError
from . import app

gateway_app = typer.Typer(help="Tools: register, list, call, search, serve over MCP.", no_args_is_help=True)
app.add_typer(gateway_app, name="gateway")


def _gateway(project: Any) -> Any:
    return project.services["gateway"]


def _json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise AgentcoreError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise AgentcoreError(f"{path} is not JSON: {exc.msg} at line {exc.lineno}") from None


def _definition(name: str | None, schema: Path | None, description: str | None) -> dict[str, Any]:
    doc = _json_file(schema) if schema else {}
    if not isinstance(doc, dict):
        raise AgentcoreError(f"{schema} must hold a JSON object (a tool definition or a JSON Schema)")
    definition = dict(doc) if "inputSchema" in doc else {"inputSchema": doc or {"type": "object"}}
    if name:
        definition["name"] = name
    if description:
        definition["description"] = description
    if "name" not in definition:
        raise AgentcoreError(
            "the tool needs a name", hint='pass --name NAME or put "name" in the schema file'
        )
    return definition


@gateway_app.command("register")
def register(
    name: Annotated[
        str | None, typer.Option("--name", help="Tool name (with --openapi/--mcp: the prefix).")
    ] = None,
    schema: Annotated[
        Path | None, typer.Option("--schema", help="Tool definition or input JSON Schema (JSON).")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="HTTP endpoint (POST the input as JSON).")] = None,
    python: Annotated[str | None, typer.Option("--python", help="module:function")] = None,
    openapi: Annotated[Path | None, typer.Option("--openapi", help="OpenAPI 3 document (YAML/JSON).")] = None,
    mcp: Annotated[str | None, typer.Option("--mcp", help="MCP server: a command (stdio) or a URL.")] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="With --openapi: override servers[0].url.")
    ] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Seconds per call.")] = None,
    bearer_secret: Annotated[
        str | None, typer.Option("--bearer-secret", help="Secret NAME for a bearer token.")
    ] = None,
    api_key_secret: Annotated[
        str | None, typer.Option("--api-key-secret", help="Secret NAME for an API key.")
    ] = None,
    api_key_header: Annotated[str, typer.Option("--api-key-header")] = "X-API-Key",
) -> None:
    """Register a tool (or every operation of an OpenAPI document, or every tool of an MCP server)."""
    from ..gateway.targets import resolve_ref
    from ..project import Project

    targets = [t for t in (url, python, openapi, mcp) if t]
    if len(targets) > 1:
        raise AgentcoreError("choose one target: --url, --python, --openapi or --mcp")
    auth = None
    if bearer_secret:
        auth = {"type": "bearer", "secret": bearer_secret}
    elif api_key_secret:
        auth = {"type": "apiKey", "name": api_key_header, "secret": api_key_secret}
    with Project() as project:
        gw = _gateway(project)
        if openapi:
            regs = gw.register_openapi(openapi, base_url=base_url, prefix=name)
        elif mcp:
            if not name:
                raise AgentcoreError("--mcp needs --name (the prefix for the server's tools)")
            regs = gw.register_mcp(mcp, prefix=name)
        elif python:
            fn = resolve_ref(python)
            definition = _definition(name or fn.__name__, schema, description) if schema else None
            spec = gw.register_function(
                fn, name=name, description=description,
                input_schema=definition["inputSchema"] if definition else None, timeout=timeout,
            )  # fmt: skip
            spec.target = {"type": "python", "ref": python}
            regs = [gw.register(spec)]
        else:
            definition = _definition(name, schema, description)
            if url:
                if auth:
                    definition["target"] = {"type": "http", "url": url, "method": "POST", "auth": auth}
                    regs = [gw.register(definition, timeout=timeout)]
                else:
                    regs = [gw.register_http(definition, url)]
            else:
                regs = [gw.register(definition, timeout=timeout)]
        for reg in regs:
            typer.echo(reg.summary())
            if reg.spec.target.get("type") == "none":
                typer.echo(f"  {reg.spec.name} has no target yet: calls will say how to bind one")
        for label, why in getattr(regs, "refused", []):
            typer.echo(f"refused {label}: {why}")


@gateway_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Registered tools (current versions) and built-ins."""
    from ..project import Project

    with Project() as project:
        for spec in _gateway(project).list():
            if as_json:
                typer.echo(json.dumps(spec.to_mcp()))
            else:
                typer.echo(f"{spec.ref:<32} {spec.target.get('type', 'none'):<8} {spec.description[:70]}")


@gateway_app.command("show")
def show(name: Annotated[str, typer.Argument(help="NAME or NAME@VERSION")]) -> None:
    """A tool's definition, target and versions."""
    from ..project import Project

    with Project() as project:
        gw = _gateway(project)
        spec = gw.get(name)
        data = spec.to_dict()
        data["target"] = {k: v for k, v in spec.target.items() if k != "auth"} | (
            {"auth": {"type": spec.target["auth"]["type"], "secret": spec.target["auth"]["secret"]}}
            if spec.target.get("auth") else {}
        )  # fmt: skip
        data["versions"] = gw.registry.versions(spec.name) if spec.target.get("type") != "builtin" else []
        typer.echo(json.dumps(data, indent=2))


@gateway_app.command("call")
def call(
    name: Annotated[str, typer.Argument(help="NAME or NAME@VERSION")],
    input: Annotated[str, typer.Option("--input", "-i", help="Arguments as a JSON object.")] = "{}",
) -> None:
    """Call a tool; prints its output as JSON."""
    from ..project import Project

    try:
        arguments = json.loads(input)
    except json.JSONDecodeError as exc:
        raise AgentcoreError(f"--input is not JSON: {exc.msg}") from None
    with Project() as project:
        typer.echo(json.dumps(_gateway(project).call(name, arguments), indent=2, default=repr))


@gateway_app.command("search")
def search(query: Annotated[str, typer.Argument()], k: Annotated[int, typer.Option("-k")] = 5) -> None:
    """Tools ranked by how well their names and descriptions match QUERY."""
    from ..project import Project

    with Project() as project:
        for spec, score in _gateway(project).search(query, k):
            typer.echo(f"{score:6.3f}  {spec.name:<28} {spec.description[:70]}")


@gateway_app.command("remove")
def remove(name: Annotated[str, typer.Argument()]) -> None:
    """Remove a tool and all its versions."""
    from ..project import Project

    with Project() as project:
        n = _gateway(project).remove(name)
    typer.echo(f"removed {name} ({n} version{'s' if n != 1 else ''})")


@gateway_app.command("serve-mcp")
def serve_mcp(
    http: Annotated[bool, typer.Option("--http", help="Streamable HTTP instead of stdio.")] = False,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8765,
    require_auth: Annotated[
        bool, typer.Option("--require-auth", help="Bearer token on loopback too.")
    ] = False,
    jwks_url: Annotated[str, typer.Option("--jwks-url", help="Accept JWTs of this issuer's JWKS.")] = "",
    audience: Annotated[str, typer.Option("--audience", help="The audience those JWTs name.")] = "",
) -> None:
    """Expose the registry's tools to MCP clients (stdio by default). Over HTTP beyond loopback
    (or with --require-auth) a bearer token with tool:* is required."""
    from ..gateway.mcp_server import serve
    from ..project import Project
    from ..serve.config import AuthConfig

    auth = AuthConfig(required=require_auth, jwks_url=jwks_url, audience=audience)
    if bool(jwks_url) != bool(audience):
        raise AgentcoreError("an external JWT issuer needs both --jwks-url and --audience")
    with Project() as project:
        serve(_gateway(project), transport="http" if http else "stdio", host=host, port=port,
              auth=auth, project=project)  # fmt: skip
