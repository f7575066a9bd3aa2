"""Calling an OpenAPI operation: build the request, send it (bounded retries), and read the answer
by its media type (JSON, text, or a file reference for binary bodies), validated against the
schema of the status code actually returned (exact code, then ``2XX``-style range, then ``default``)."""

from __future__ import annotations

import base64
import mimetypes
import re
import uuid
from typing import Any

import httpx

from ...home import state_dir
from ..spec import ToolOutputError, ToolTargetError, validation_error, validator_for
from ..targets import request, secret
from .media import essence, is_json, is_texty
from .request import Request, build_request


def _legacy(target: dict[str, Any]) -> dict[str, Any]:
    """Targets stored before the request plans (``params`` as ``{name: location}``)."""
    params = target.get("params")
    if isinstance(params, dict):
        plans = [{"arg": n, "name": n, "in": w, "style": "form" if w == "query" else "simple",
                  "explode": w == "query"} for n, w in params.items()]  # fmt: skip
        body = target.get("body")
        plan = None
        if body == "merged":
            plan = {"media": "application/json", "kind": "json", "arg": None, "required": False}
        elif body:
            plan = {"media": "application/json", "kind": "json", "arg": body, "required": False}
        target = {**target, "params": plans, "body": plan}
    return target


def apply_auth(req: Request, auth: dict[str, Any] | None) -> None:
    if not auth:
        return
    value = secret(auth["secret"])
    kind = auth.get("type")
    if kind == "bearer":
        req.headers["Authorization"] = f"Bearer {value}"
    elif kind == "basic":
        req.headers["Authorization"] = "Basic " + base64.b64encode(value.encode()).decode()
    elif auth.get("in") == "query":
        sep = "&" if "?" in req.url else "?"
        req.url += f"{sep}{httpx.QueryParams({auth['name']: value})}"
    elif auth.get("in") == "cookie":
        req.headers["Cookie"] = "; ".join(
            filter(None, [req.headers.get("Cookie"), f"{auth['name']}={value}"])
        )
    else:
        req.headers[auth.get("name", "X-API-Key")] = value


def response_entry(responses: dict[str, Any], status: int) -> dict[str, Any] | None:
    return responses.get(str(status)) or responses.get(f"{str(status)[0]}xx") or responses.get("default")


async def call_openapi(client: httpx.AsyncClient, target: dict[str, Any], arguments: dict[str, Any],
                       timeout: float) -> Any:  # fmt: skip
    target = _legacy(target)
    req = build_request(target, arguments)
    apply_auth(req, target.get("auth"))
    what = f"operation {target['method'].upper()} {target['path']}"
    resp = await _send(client, req, what, timeout)
    value = _decode(resp, what)
    entry = response_entry(target.get("responses") or {}, resp.status_code)
    schema = (entry or {}).get("schema")
    if schema is not None and is_json(resp.headers.get("content-type", "application/json")):
        problem = validation_error(validator_for(schema), value, "output")
        if problem:
            raise ToolOutputError(f"{what} (HTTP {resp.status_code}): {problem}")
    return value


async def _send(client: httpx.AsyncClient, req: Request, what: str, timeout: float) -> httpx.Response:
    kwargs: dict[str, Any] = {"headers": req.headers}
    if req.files is not None:
        kwargs["files"] = req.files
    elif req.content is not None:
        kwargs["content"] = req.content
    return await request(client, req.method, req.url, what=what, timeout=timeout, **kwargs)


def _decode(resp: httpx.Response, what: str) -> Any:
    """JSON as a value, text as a string, anything else saved to a file and returned as a reference."""
    if not resp.content:
        return None
    ctype = resp.headers.get("content-type", "")
    if is_json(ctype) or not ctype:
        try:
            return resp.json()
        except ValueError:
            if is_json(ctype):
                raise ToolTargetError(f"{what} returned invalid JSON (HTTP {resp.status_code})") from None
    if is_texty(ctype) or not ctype:
        try:
            return resp.content.decode(resp.encoding or "utf-8")
        except (UnicodeDecodeError, LookupError):
            pass
    folder = state_dir() / "downloads"
    folder.mkdir(parents=True, exist_ok=True)
    name = _filename(resp) or f"response{mimetypes.guess_extension(essence(ctype) or '') or '.bin'}"
    path = folder / f"{uuid.uuid4().hex[:12]}-{name}"
    path.write_bytes(resp.content)
    return {
        "file": str(path),
        "contentType": essence(ctype) or "application/octet-stream",
        "size": len(resp.content),
    }


def _filename(resp: httpx.Response) -> str | None:
    found = re.search(r'filename="?([^";]+)"?', resp.headers.get("content-disposition", ""))
    if not found:
        return None
    name = re.sub(r"[^A-Za-z0-9._-]", "_", found.group(1).rsplit("/", 1)[-1])[:80].lstrip(".")
    return name or None
