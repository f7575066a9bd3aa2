"""What the HTTP providers share: retries with backoff, SSE parsing, and keeping keys out of text.

Timeouts, connection failures, HTTP 429 and 5xx are retried (``Retry-After`` is honoured, capped);
other HTTP errors fail at once. Every error is one line naming the provider, the status and what
the server said, with any secret scrubbed from it.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from .types import ModelError

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


@dataclass(slots=True)
class Retry:
    """``attempts`` in all; the delay before attempt n+1 is ``min(max, initial * multiplier**(n-1))``."""

    attempts: int = 4
    initial: float = 0.5
    multiplier: float = 2.0
    max: float = 8.0
    jitter: float = 0.1

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        base = min(self.max, self.initial * self.multiplier ** max(0, attempt - 1))
        if retry_after is not None:
            base = min(self.max, max(base, retry_after))
        return max(0.0, base * (1.0 + random.uniform(-self.jitter, self.jitter)))


class Redactor:
    """Removes secrets (API keys) from any text before it leaves the provider."""

    def __init__(self, *secrets: str | None) -> None:
        self._secrets = [s for s in secrets if s and len(s) >= 4]

    def __call__(self, text: str) -> str:
        for s in self._secrets:
            text = text.replace(s, "[redacted]")
        return text


def safe_url(url: str) -> str:
    """``url`` without any ``user:password@`` part (for display)."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(userinfo=b"")) if parsed.userinfo else url


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def error_detail(resp: httpx.Response, limit: int = 200) -> str:
    """The server's own error message, if its body has one (OpenAI and Anthropic both nest it)."""
    try:
        body = resp.json()
    except (ValueError, UnicodeDecodeError):
        text = resp.text.strip() if resp.content else ""
        return " ".join(text.split())[:limit]
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("type") or ""
            return " ".join(str(msg).split())[:limit]
        if isinstance(err, str):
            return " ".join(err.split())[:limit]
    return ""


def _status_message(what: str, resp: httpx.Response, redact: Redactor) -> str:
    detail = error_detail(resp)
    reason = {
        401: "unauthorized (check the API key)",
        403: "forbidden",
        404: "not found (check the model name and base URL)",
        429: "rate limited",
    }.get(resp.status_code, "")
    text = f"{what}: HTTP {resp.status_code}"
    if reason:
        text += f" {reason}"
    if detail:
        text += f": {detail}"
    return redact(text)


class HTTPChat:
    """One provider's connection: base URL, headers (with the key), timeouts, retry policy."""

    def __init__(
        self,
        what: str,
        base_url: str,
        headers: dict[str, str],
        *,
        timeout: float = 60.0,
        retry: Retry | None = None,
        redact: Redactor | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.what = what
        self.base_url = base_url.rstrip("/")
        self.retry = retry or Retry()
        self.redact = redact or Redactor()
        self._sleep = sleep
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            follow_redirects=False,
        )

    def _failure(self, exc: httpx.HTTPError) -> str:
        if isinstance(exc, httpx.TimeoutException):
            return f"{self.what}: timed out ({type(exc).__name__})"
        if isinstance(exc, httpx.ConnectError):
            return f"{self.what}: cannot connect to {safe_url(self.base_url)}"
        return self.redact(
            f"{self.what}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        )

    def post_json(self, path: str, body: dict[str, Any]) -> Any:
        """POST and return the decoded JSON body, retrying what is worth retrying."""
        last = ""
        for attempt in range(1, self.retry.attempts + 1):
            retry_after = None
            try:
                resp = self._client.post(self.base_url + path, json=body)
            except httpx.HTTPError as exc:
                last = self._failure(exc)
            else:
                if resp.status_code == 200:
                    try:
                        return resp.json()
                    except ValueError:
                        raise ModelError(f"{self.what}: the response body is not JSON") from None
                last = _status_message(self.what, resp, self.redact)
                if resp.status_code not in RETRY_STATUS:
                    raise ModelError(last)
                retry_after = _retry_after(resp)
            if attempt < self.retry.attempts:
                self._sleep(self.retry.delay(attempt, retry_after))
        raise ModelError(f"{last} (gave up after {self.retry.attempts} attempts)", hint="try again later")

    @contextmanager
    def stream(self, path: str, body: dict[str, Any]) -> Iterator[Iterator[tuple[str, str]]]:
        """POST for server-sent events; yields an iterator of ``(event, data)``. Retries before the
        first byte only (a broken stream is an error, never a silently repeated answer)."""
        last = ""
        for attempt in range(1, self.retry.attempts + 1):
            retry_after = None
            try:
                request = self._client.build_request("POST", self.base_url + path, json=body)
                resp = self._client.send(request, stream=True)
            except httpx.HTTPError as exc:
                last = self._failure(exc)
            else:
                if resp.status_code == 200:
                    try:
                        yield self._events(resp)
                    finally:
                        resp.close()
                    return
                resp.read()
                resp.close()
                last = _status_message(self.what, resp, self.redact)
                if resp.status_code not in RETRY_STATUS:
                    raise ModelError(last)
                retry_after = _retry_after(resp)
            if attempt < self.retry.attempts:
                self._sleep(self.retry.delay(attempt, retry_after))
        raise ModelError(f"{last} (gave up after {self.retry.attempts} attempts)", hint="try again later")

    def _events(self, resp: httpx.Response) -> Iterator[tuple[str, str]]:
        try:
            yield from sse_events(resp.iter_lines())
        except httpx.HTTPError as exc:
            raise ModelError(self._failure(exc) + " (while streaming)") from None

    def close(self) -> None:
        self._client.close()


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """Server-sent events: ``(event name or "message", data)`` per blank-line-terminated block."""
    event = ""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield event or "message", "\n".join(data)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data:
        yield event or "message", "\n".join(data)


def load_event(what: str, data: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except json.JSONDecodeError:
        raise ModelError(f"{what}: a streamed event is not JSON") from None
    if not isinstance(value, dict):
        raise ModelError(f"{what}: a streamed event is not a JSON object")
    return value
