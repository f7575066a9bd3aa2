"""``agentcore invoke``: call a served agent as AgentCore's CLI does (JSON, or a stream of events)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from ..errors import AgentcoreError
from .config import SESSION_HEADER


def _refusal(response: httpx.Response) -> AgentcoreError:
    try:
        body = response.json()
        detail = body.get("error", "") if isinstance(body, dict) else ""
        extra = body.get("details", "") if isinstance(body, dict) else ""
    except ValueError:
        detail, extra = response.text.strip().splitlines()[0] if response.text.strip() else "", ""
    line = f"the service refused the request: HTTP {response.status_code}"
    if detail:
        line += f": {detail}"
    if extra and isinstance(extra, str):
        line += f" ({extra.splitlines()[0]})"
    hint = "pass a token with --token" if response.status_code in (401, 403) else None
    return AgentcoreError(line, hint=hint)


def invoke(
    payload: Any,
    *,
    url: str = "http://127.0.0.1:8080",
    session_id: str | None = None,
    token: str | None = None,
    stream: bool = False,
    timeout: float = 300.0,
    on_event: Callable[[Any], None] | None = None,
) -> Any:
    """POST ``payload`` to ``URL/invocations``. Returns the JSON result, or (streamed) the list of
    events, each also given to ``on_event`` as it arrives. One-line errors when nothing listens or
    the service refuses."""
    headers = {"Content-Type": "application/json"}
    if session_id:
        headers[SESSION_HEADER] = session_id
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if stream:
        headers["Accept"] = "text/event-stream"
    target = url.rstrip("/") + "/invocations"
    try:
        with (
            httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0)) as client,
            client.stream("POST", target, content=json.dumps(payload), headers=headers) as response,
        ):
            if response.status_code >= 400:
                response.read()
                raise _refusal(response)
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                events = []
                for value in _events(response.iter_lines()):
                    events.append(value)
                    if on_event is not None:
                        on_event(value)
                return events
            response.read()
            return response.json()
    except httpx.ConnectError:
        raise AgentcoreError(
            f"nothing is listening at {url}", hint="start it with: agentcore serve BUNDLE_DIR"
        ) from None
    except httpx.TimeoutException:
        raise AgentcoreError(f"{url} did not answer within {timeout:g}s") from None
    except httpx.HTTPError as exc:
        raise AgentcoreError(f"cannot reach {url}: {type(exc).__name__}: {exc}") from None


def _events(lines: Iterator[str]) -> Iterator[Any]:
    """Values of ``data:`` lines (events separated by blank lines; multi-line data joined)."""
    data: list[str] = []
    for line in lines:
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line and data:
            yield _value("\n".join(data))
            data = []
    if data:
        yield _value("\n".join(data))


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
