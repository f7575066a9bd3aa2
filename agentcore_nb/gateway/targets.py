"""Where a tool call goes: a Python function, an HTTP endpoint, an OpenAPI operation, an MCP
server, a built-in (the code interpreter), or nowhere yet (registered, validated, unbound).

Targets are plain JSON (stored in the registry); live Python functions defined in a notebook are
kept in process memory only, keyed by the tool's name.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from ..home import state_dir
from .spec import ToolTargetError

RETRIES = 2


def secret(name: str) -> str:
    """A secret by name: the environment first, then ``$AGENTCORE_HOME/secrets.json``."""
    value = os.environ.get(name)
    if value:
        return value
    path = Path(os.environ.get("AGENTCORE_SECRETS", state_dir() / "secrets.json"))
    try:
        found = json.loads(path.read_text()).get(name)
    except (OSError, ValueError, AttributeError):
        found = None
    if not isinstance(found, str) or not found:
        raise ToolTargetError(
            f"secret {name!r} is not set",
            hint=f"export {name}=... or add it to {path} (never to the tool definition)",
        )
    return found


def auth_headers(auth: dict[str, Any] | None) -> dict[str, str]:
    if not auth:
        return {}
    value = secret(auth["secret"])
    if auth.get("type") == "bearer":
        return {"Authorization": f"Bearer {value}"}
    return {auth.get("name", "X-API-Key"): value}


def resolve_ref(ref: str) -> Callable[..., Any]:
    module, _, attr = ref.partition(":")
    if not module or not attr:
        raise ToolTargetError(f"python target {ref!r} must look like module:function")
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ToolTargetError(f"python target {ref!r} cannot be imported: {exc}") from None
    if not callable(obj):
        raise ToolTargetError(f"python target {ref!r} is not callable")
    return obj  # type: ignore[no-any-return]


async def call_python(fn: Callable[..., Any], arguments: dict[str, Any]) -> Any:
    if inspect.iscoroutinefunction(fn):
        return await fn(**arguments)
    return await asyncio.to_thread(fn, **arguments)


def _decode(resp: httpx.Response, what: str) -> Any:
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        raise ToolTargetError(f"{what} returned invalid JSON (HTTP {resp.status_code})") from None


async def send(client: httpx.AsyncClient, method: str, url: str, *, what: str, timeout: float,
               **kwargs: Any) -> Any:  # fmt: skip
    """One HTTP call with bounded retries on connection errors and 5xx; secrets stay in headers."""
    for attempt in range(RETRIES + 1):
        try:
            resp = await client.request(method, url, timeout=timeout, **kwargs)
        except httpx.TimeoutException:
            raise ToolTargetError(f"{what} timed out after {timeout:g}s") from None
        except httpx.TransportError as exc:
            if attempt < RETRIES:
                await asyncio.sleep(0.05 * 2**attempt * (1 + random.random()))
                continue
            raise ToolTargetError(f"{what} unreachable: {type(exc).__name__}") from None
        if resp.status_code >= 500 and attempt < RETRIES:
            await asyncio.sleep(0.05 * 2**attempt * (1 + random.random()))
            continue
        if resp.status_code >= 400:
            detail = resp.text[:200].replace("\n", " ")
            raise ToolTargetError(f"{what} answered HTTP {resp.status_code}: {detail}")
        return _decode(resp, what)
    raise ToolTargetError(f"{what} failed")  # pragma: no cover - the loop always returns or raises


async def call_http(client: httpx.AsyncClient, target: dict[str, Any], arguments: dict[str, Any],
                    timeout: float) -> Any:  # fmt: skip
    url = target["url"]
    return await send(client, target.get("method", "POST"), url, what=f"endpoint {url}", timeout=timeout,
                      json=arguments, headers=auth_headers(target.get("auth")))  # fmt: skip


def mcp_server_param(where: str) -> Any:
    """A URL (streamable HTTP) or a command line (stdio subprocess) for :class:`mcp.Client`."""
    if where.startswith(("http://", "https://")):
        return where
    import shlex

    from mcp import StdioServerParameters
    from mcp.client.stdio import stdio_client

    argv = shlex.split(where)
    if not argv:
        raise ToolTargetError("empty MCP server command")
    params = StdioServerParameters(command=argv[0], args=argv[1:], env=dict(os.environ))
    return stdio_client(params, errlog=_errlog())


def _errlog() -> Any:
    """Where an MCP subprocess's stderr goes: ours if it is a real file, else a log in the state dir
    (a Jupyter kernel's sys.stderr has no file descriptor)."""
    import sys

    try:
        sys.stderr.fileno()
        return sys.stderr
    except (AttributeError, OSError, ValueError):
        path = state_dir() / "logs" / "mcp-servers.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("a")


def mcp_result(result: Any, what: str, *, unwrap: bool = False) -> Any:
    """An MCP CallToolResult as a value: its structured content, else its text (JSON if it parses)."""
    texts = [getattr(c, "text", "") for c in result.content if getattr(c, "type", "") == "text"]
    if result.is_error:
        raise ToolTargetError(f"{what} failed: {' '.join(texts)[:300]}")
    if result.structured_content is not None:
        sc = result.structured_content
        return sc.get("result") if unwrap and isinstance(sc, dict) else sc
    text = "\n".join(texts)
    try:
        return json.loads(text)
    except ValueError:
        return text


async def mcp_list(where: str) -> list[Any]:
    from mcp import Client

    async with Client(mcp_server_param(where)) as client:
        listed = await client.list_tools()
        return list(listed.tools)


async def call_mcp(target: dict[str, Any], arguments: dict[str, Any]) -> Any:
    from mcp import Client

    what = f"MCP tool {target['tool']}"
    try:
        async with Client(mcp_server_param(target["server"])) as client:
            result = await client.call_tool(target["tool"], arguments)
    except ToolTargetError:
        raise
    except Exception as exc:
        raise ToolTargetError(
            f"{what} at {target['server'].split()[0]}: {type(exc).__name__}: {exc}"[:300]
        ) from None
    return mcp_result(result, what, unwrap=bool(target.get("unwrap")))
