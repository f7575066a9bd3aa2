"""MCP servers as gateway targets, with the official SDK's client.

What a stdio server is started with: the SDK's minimal environment (``HOME``, ``LOGNAME``,
``PATH``, ``SHELL``, ``TERM``, ``USER``) plus exactly what was granted at registration: plain
``env`` settings (stored) and ``env_secrets`` names whose values are read at call time from the
environment or ``secrets.json`` (never stored, logged or traced). What comes back: every content
block (:mod:`.content`). Where the server's stderr goes: the project's log
(``<state dir>/logs/mcp-servers.log``) and a size-capped span event, on screen only when asked.
Progress notifications go to the caller's callback and the span; cancelling the call sends MCP's
``notifications/cancelled`` (the SDK does that when the awaiting task is cancelled).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shlex
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..home import state_dir
from ..observability import conventions as conv
from .content import ToolResult, check_blocks
from .spec import ToolError, ToolOutputError, ToolSchemaError, ToolTargetError, ToolTimeoutError
from .targets import secret

#: The SDK's own default inheritance on POSIX (``mcp.client.stdio.get_default_environment``).
DEFAULT_ENV = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER")
STARTUP_TIMEOUT = 30.0
LOG_CAP = 64 * 1024
SPAN_CAP = 4096
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

ProgressFn = Callable[[float, "float | None", "str | None"], None]


@dataclass(slots=True)
class CallHooks:
    """What the caller of one MCP call wants to see while it runs."""

    progress: ProgressFn | None = None  # (progress, total, message), from the gateway's loop thread
    echo: TextIO | None = None  # the server's stderr, shown as well (``--verbose``)
    span: Any = None  # the call's ``execute_tool`` span: progress and stderr become its events
    log: Path | None = None  # the project's log file for server output (default: the state dir's)


def parse_env(pairs: list[str] | None, secrets: list[str] | None) -> tuple[dict[str, str], list[str]]:
    """``["TZ=UTC"], ["API_TOKEN"]`` -> (plain settings, secret names), checked (one line if not)."""
    plain: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not ENV_NAME.match(name):
            raise ToolSchemaError(f"--env {pair!r} must look like NAME=VALUE")
        plain[name] = value
    names = []
    for name in secrets or []:
        if not ENV_NAME.match(name):
            raise ToolSchemaError(
                f"--env-secret {name!r} must be a variable name (its value is read at call time)"
            )
        if name in plain:
            raise ToolSchemaError(f"{name} is given both as --env and --env-secret")
        names.append(name)
    return plain, names


def server_label(target: dict[str, Any]) -> str:
    """How errors name a server: its registration name, else its command's first word."""
    where = str(target.get("server", ""))
    return str(target.get("name") or (where if where.startswith("http") else Path(where.split()[0]).name))


def environment(target: dict[str, Any]) -> dict[str, str]:
    """What a stdio server gets on top of the SDK's defaults: its settings and granted secrets."""
    env = dict(target.get("env") or {})
    for name in target.get("env_secrets") or []:
        try:
            env[name] = secret(name)
        except ToolTargetError as exc:
            raise ToolTargetError(
                f"MCP server {server_label(target)}: {exc.message}", hint=exc.hint
            ) from None
    return env


def received(target: dict[str, Any]) -> dict[str, Any]:
    """For ``gateway show``: the names a server receives, never a value."""
    if str(target.get("server", "")).startswith(("http://", "https://")):
        return {"transport": "streamable-http"}
    return {
        "transport": "stdio",
        "environment": {
            "defaults": [n for n in DEFAULT_ENV],
            "settings": sorted(target.get("env") or {}),
            "secrets": list(target.get("env_secrets") or []),
        },
    }


_LOG: ContextVar[Path | None] = ContextVar("agentcore_mcp_log", default=None)


def log_path() -> Path:
    """``<project>/logs/mcp-servers.log`` of the project making the call (the SDK's own log lines,
    written from tasks of that call, find it through a context variable)."""
    return _LOG.get() or state_dir() / "logs" / "mcp-servers.log"


class _LogFileHandler(logging.Handler):
    """The SDK's own log lines (e.g. a server writing garbage to stdout) go to the project's log,
    not the console: the failure itself reaches the user as one error line."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            path = log_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as f:
                f.write(
                    f"{time.strftime('%Y-%m-%dT%H:%M:%S')} sdk {record.levelname}: {record.getMessage()}\n"
                )
        except Exception:  # pragma: no cover - logging must never fail a call
            pass


class _SDKRecords(logging.Filter):
    """The SDK's session logs to the generic logger name "client": divert only its own records."""

    def __init__(self) -> None:
        super().__init__()
        self.handler = _LogFileHandler()

    def filter(self, record: logging.LogRecord) -> bool:
        if f"{os.sep}mcp{os.sep}" in record.pathname:
            self.handler.emit(record)
            return False
        return True


def _quiet_sdk_logs() -> None:
    mcp_logger = logging.getLogger("mcp")  # the SDK's own namespace: all of it to the log file
    if not any(isinstance(h, _LogFileHandler) for h in mcp_logger.handlers):
        mcp_logger.addHandler(_LogFileHandler())
        mcp_logger.propagate = False
    client_logger = logging.getLogger("client")
    if not any(isinstance(f, _SDKRecords) for f in client_logger.filters):
        client_logger.addFilter(_SDKRecords())


def _record_stderr(err: Any, label: str, hooks: CallHooks | None) -> str:
    """The server's stderr of this connection: to the log, the span (capped), and the echo."""
    try:
        err.flush()
        err.seek(0)
        text = err.read(LOG_CAP + 1)
    except (OSError, ValueError):
        return ""
    if not text:
        return ""
    cut = len(text) > LOG_CAP
    text = text[:LOG_CAP]
    try:
        path = log_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} server {label} stderr:\n{text}")
            f.write("\n[cut at 64 KiB]\n" if cut else "" if text.endswith("\n") else "\n")
    except OSError:
        pass
    if hooks is not None:
        if hooks.span is not None:
            hooks.span.add_event(
                conv.MCP_STDERR_EVENT,
                {conv.MCP_SERVER: label, "text": text[-SPAN_CAP:], "truncated": len(text) > SPAN_CAP or cut},
            )
        if hooks.echo is not None:
            hooks.echo.write(text if text.endswith("\n") else text + "\n")
            hooks.echo.flush()
    return text


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


class _NotJSONRPC(Exception):
    pass


@contextlib.asynccontextmanager
async def _watched(inner: Any, label: str) -> AsyncIterator[Any]:
    """The transport's streams, but a line that is not JSON-RPC ends the connection at once with
    one clear error (the SDK would log it and wait on, until a timeout)."""
    import anyio

    async with inner as (read, write):
        send, recv = anyio.create_memory_object_stream[Any](0)

        async def pump() -> None:
            async with send:
                async for item in read:
                    if isinstance(item, Exception):
                        found = re.search(r"input_value='((?:[^'\\]|\\.)*)'", str(item))
                        line = found.group(1)[:80] if found else str(item).splitlines()[0][:80]
                        raise _NotJSONRPC(
                            f"MCP server {label} wrote something that is not MCP JSON-RPC to stdout: {line!r}"
                        )
                    await send.send(item)

        async with anyio.create_task_group() as tg:
            tg.start_soon(pump)
            try:
                yield recv, write
            finally:
                tg.cancel_scope.cancel()


def _transport(target: dict[str, Any], errlog: TextIO) -> Any:
    where = str(target.get("server", ""))
    if where.startswith(("http://", "https://")):
        return where
    from mcp import StdioServerParameters
    from mcp.client.stdio import stdio_client

    try:
        argv = shlex.split(where)
    except ValueError as exc:
        raise ToolTargetError(f"MCP server {server_label(target)}: bad command line: {exc}") from None
    if not argv:
        raise ToolTargetError("empty MCP server command")
    params = StdioServerParameters(command=argv[0], args=argv[1:], env=environment(target))
    return _watched(stdio_client(params, errlog=errlog), server_label(target))


def _one_line(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors) and type(exc).__name__ == "ValidationError":  # pydantic: the first problem
        try:
            first = errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            return f"invalid {getattr(exc, 'title', 'message')} at {where}: {first.get('msg', '')}"
        except Exception:
            pass
    return " ".join(str(exc).split()) or type(exc).__name__


def _explain(exc: BaseException, label: str, stderr: str, phase: str) -> ToolError:
    """One line naming the server and what went wrong."""
    if isinstance(exc, ToolError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        found = exc.subgroup(lambda e: isinstance(e, _NotJSONRPC | ToolError))
        inner = found.exceptions[0] if found else exc.exceptions[0] if len(exc.exceptions) == 1 else None
        if inner is not None:
            return _explain(inner, label, stderr, phase)
    if isinstance(exc, _NotJSONRPC):
        return ToolTargetError(str(exc))
    last = _last_line(stderr)
    said = f" (its stderr: {last})" if last else ""
    if isinstance(exc, FileNotFoundError):
        return ToolTargetError(f"MCP server {label}: command not found: {exc.filename}")
    message = _one_line(exc)
    if isinstance(exc, ValueError) and "JSON" in message:
        return ToolTargetError(f"MCP server {label} wrote something that is not MCP JSON-RPC to stdout{said}")
    if "Connection closed" in message or isinstance(exc, EOFError | BrokenPipeError):
        return ToolTargetError(f"MCP server {label} exited {phase}{said}")
    if "Invalid structured content" in message:
        why = str(exc).splitlines()[0].split(":", 1)[-1].strip()
        return ToolOutputError(
            f"MCP server {label}: {phase.replace('during ', '')} returned content that fails its outputSchema: {why}"[
                :300
            ]
        )
    if "did not return structured content" in message:
        return ToolOutputError(
            f"MCP server {label}: {phase.replace('during ', '')} returned no structuredContent, but has an outputSchema"
        )
    return ToolTargetError(f"MCP server {label} failed {phase}: {type(exc).__name__}: {message}{said}"[:300])


@contextlib.asynccontextmanager
async def connect(target: dict[str, Any], hooks: CallHooks | None = None, *, startup_timeout: float | None = None,
                  box: dict[str, str] | None = None) -> AsyncIterator[Any]:  # fmt: skip
    """An initialised :class:`mcp.Client` for ``target``; its stderr recorded when it closes."""
    from mcp import Client

    _quiet_sdk_logs()
    if hooks is not None and hooks.log is not None:
        _LOG.set(hooks.log)
    label = server_label(target)
    limit = float(startup_timeout or target.get("startup_timeout") or STARTUP_TIMEOUT)
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err:
        stderr = ""
        client = Client(_transport(target, err))
        try:
            try:
                async with asyncio.timeout(limit):
                    await client.__aenter__()
            except TimeoutError:
                await _close(client)
                stderr = _record_stderr(err, label, hooks)
                raise ToolTimeoutError(
                    f"MCP server {label} did not finish starting (initialize) within {limit:g}s"
                    + (f" (its stderr: {_last_line(stderr)})" if _last_line(stderr) else "")
                ) from None
            except BaseException as exc:
                await _close(client)
                stderr = _record_stderr(err, label, hooks)
                if isinstance(exc, Exception):
                    raise _explain(exc, label, stderr, "at start") from None
                raise
            try:
                yield client
            finally:
                await _close(client)
        finally:
            if not stderr:
                stderr = _record_stderr(err, label, hooks)
            if box is not None:
                box["stderr"] = stderr


async def _close(client: Any) -> None:
    with contextlib.suppress(Exception):
        await client.__aexit__(None, None, None)


async def list_tools(target: dict[str, Any], *, startup_timeout: float | None = None,
                     log: Path | None = None) -> list[Any]:  # fmt: skip
    label = server_label(target)
    async with connect(target, CallHooks(log=log), startup_timeout=startup_timeout) as client:
        try:
            return list((await client.list_tools()).tools)
        except ToolError:
            raise
        except Exception as exc:
            raise _explain(exc, label, "", "listing its tools") from None


def _blocks(result: Any) -> list[dict[str, Any]]:
    return [c.model_dump(by_alias=True, exclude_none=True, mode="json") for c in result.content]


def result_value(result: Any, target: dict[str, Any]) -> Any:
    """An MCP CallToolResult as a value: text-only results as before (structured content, else the
    text, parsed as JSON when it is), anything richer as a whole :class:`ToolResult`."""
    label, tool = server_label(target), target["tool"]
    blocks = _blocks(result)
    texts = [b["text"] for b in blocks if b.get("type") == "text"]
    if result.is_error:
        detail = " ".join(texts)[:300] or "(no message)"
        raise ToolTargetError(f"MCP server {label}: tool {tool} failed: {detail}")
    check_blocks(blocks, f"MCP server {label}: tool {tool}")
    structured = result.structured_content
    if target.get("unwrap") and isinstance(structured, dict):
        structured = structured.get("result")
    if any(b.get("type") != "text" for b in blocks):
        out = ToolResult(content=blocks)
        if structured is not None:
            out["structuredContent"] = structured
        return out
    if structured is not None:
        return structured
    text = "\n".join(texts)
    try:
        return json.loads(text)
    except ValueError:
        return text


async def call_tool(target: dict[str, Any], arguments: dict[str, Any], hooks: CallHooks | None = None) -> Any:
    """One call on a fresh connection (a stdio server lives for the call). Cancelling the awaiting
    task (a timeout, Ctrl-C, a cell interrupt) sends the server ``notifications/cancelled``."""
    label, tool = server_label(target), target["tool"]

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if hooks is None:
            return
        if hooks.span is not None:
            attrs: dict[str, Any] = {conv.MCP_PROGRESS: float(progress)}
            if total is not None:
                attrs[conv.MCP_PROGRESS_TOTAL] = float(total)
            if message:
                attrs[conv.MCP_PROGRESS_MESSAGE] = str(message)[:200]
            hooks.span.add_event(conv.MCP_PROGRESS_EVENT, attrs)
        if hooks.progress is not None:
            with contextlib.suppress(Exception):
                hooks.progress(progress, total, message)

    box: dict[str, str] = {}
    try:
        async with connect(target, hooks, box=box) as client:
            result = await client.call_tool(tool, arguments, progress_callback=on_progress)
    except ToolError:
        raise
    except Exception as exc:  # raised after the connection closed, so its stderr is known
        raise _explain(exc, label, box.get("stderr", ""), f"during tool {tool}") from None
    return result_value(result, target)


def mcp_target(server: str, tool: str, *, name: str, env: dict[str, str] | None = None,
               env_secrets: list[str] | None = None, startup_timeout: float | None = None) -> dict[str, Any]:  # fmt: skip
    """The stored target of one tool of a server: names of secrets, never their values."""
    target: dict[str, Any] = {"type": "mcp", "server": server, "tool": tool, "name": name}
    if env:
        target["env"] = dict(env)
    if env_secrets:
        target["env_secrets"] = list(env_secrets)
    if startup_timeout:
        target["startup_timeout"] = float(startup_timeout)
    return target


__all__ = ["DEFAULT_ENV", "CallHooks", "call_tool", "environment", "list_tools", "mcp_target",
           "parse_env", "received", "result_value", "server_label"]  # fmt: skip
