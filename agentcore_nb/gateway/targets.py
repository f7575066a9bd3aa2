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
    """One HTTP call (:func:`request`), its body decoded (JSON, else an error)."""
    return _decode(await request(client, method, url, what=what, timeout=timeout, **kwargs), what)


async def request(client: httpx.AsyncClient, method: str, url: str, *, what: str, timeout: float,
                  **kwargs: Any) -> httpx.Response:  # fmt: skip
    """One HTTP call with bounded retries on connection errors and 5xx; secrets stay in headers.
    A 4xx/5xx answer, a timeout or an unreachable target is one :class:`ToolTargetError` line."""
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
        return resp
    raise ToolTargetError(f"{what} failed")  # pragma: no cover - the loop always returns or raises


async def call_http(client: httpx.AsyncClient, target: dict[str, Any], arguments: dict[str, Any],
                    timeout: float) -> Any:  # fmt: skip
    url = target["url"]
    return await send(client, target.get("method", "POST"), url, what=f"endpoint {url}", timeout=timeout,
                      json=arguments, headers=auth_headers(target.get("auth")))  # fmt: skip
