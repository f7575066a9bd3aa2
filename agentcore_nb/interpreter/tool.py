"""The code interpreter as built-in gateway tools, shaped like AgentCore's code interpreter API:
``executeCode``, ``executeCommand``, ``writeFiles``, ``readFiles``, ``listFiles``, ``removeFiles``.

Each tool is ``{name, description, inputSchema, outputSchema, handler}``; the handler is called as
``handler(arguments, services=..., token=..., session_id=...)``. The caller's session id picks the
interpreter session (so one agent conversation keeps its variables and files); an explicit
``sessionName`` argument overrides it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .limits import InterpreterError
from .service import DEFAULT_SESSION, Interpreter

_SESSION_PROP = {
    "type": "string",
    "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$",
    "description": "Interpreter session to use (default: the caller's session).",
}

EXECUTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["stdout", "stderr", "exitCode", "isError"],
    "properties": {
        "stdout": {"type": "string"},
        "stderr": {"type": "string"},
        "exitCode": {"type": ["integer", "null"]},
        "isError": {"type": "boolean"},
        "error": {
            "type": ["object", "null"],
            "properties": {
                "name": {"type": "string"},
                "message": {"type": "string"},
                "traceback": {"type": "string"},
            },
        },
        "results": {"type": "array", "items": {"type": "object"}},
        "executionTimeMs": {"type": "number"},
        "cpuTimeMs": {"type": "number"},
        "peakMemoryBytes": {"type": "integer"},
        "limitsHit": {"type": "array", "items": {"type": "string"}},
        "truncated": {"type": "boolean"},
        "sandbox": {"type": "string"},
        "warning": {"type": "string"},
        "sessionName": {"type": "string"},
    },
}

FILES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["files"],
    "properties": {"files": {"type": "array", "items": {"type": "object"}}},
}


def _interpreter(services: Mapping[str, Any] | None) -> Interpreter:
    try:
        return services["interpreter"]  # type: ignore[index,no-any-return]
    except (KeyError, TypeError):
        raise InterpreterError("the code interpreter tools need the 'interpreter' service") from None


def _session(arguments: dict[str, Any], session_id: str | None) -> str:
    name = arguments.get("sessionName")
    if name:
        return str(name)
    if session_id:
        return re.sub(r"[^A-Za-z0-9_.\-]", "-", session_id)[:128].lstrip("-_.") or DEFAULT_SESSION
    return DEFAULT_SESSION


def _execution(result: Any) -> dict[str, Any]:
    return {
        "stdout": result.stdout,
        "stderr": result.stderr,
        "exitCode": result.exit_code,
        "isError": not result.ok,
        "error": result.error,
        "results": result.results,
        "executionTimeMs": round(result.wall_ms, 3),
        "cpuTimeMs": round(result.cpu_ms, 3),
        "peakMemoryBytes": int(result.peak_memory_bytes),
        "limitsHit": list(result.limits_hit),
        "truncated": result.truncated,
        "sandbox": result.sandbox,
        "warning": result.warning,
        "sessionName": result.session_id,
    }


Handler = Callable[..., Any]


def _execute_code(
    arguments: dict[str, Any], *, services: Any, token: str | None, session_id: str | None
) -> Any:
    result = _interpreter(services).execute_code(
        arguments["code"],
        language=arguments.get("language", "python"),
        session=_session(arguments, session_id),
        clear_context=bool(arguments.get("clearContext", False)),
        timeout=arguments.get("timeout"),
        token=token,
    )
    return _execution(result)


def _execute_command(
    arguments: dict[str, Any], *, services: Any, token: str | None, session_id: str | None
) -> Any:
    result = _interpreter(services).execute_command(
        arguments["command"],
        session=_session(arguments, session_id),
        timeout=arguments.get("timeout"),
        token=token,
    )
    return _execution(result)


def _write_files(
    arguments: dict[str, Any], *, services: Any, token: str | None, session_id: str | None
) -> Any:
    written = _interpreter(services).write_files(
        arguments["content"], session=_session(arguments, session_id), token=token
    )
    return {"files": written}


def _read_files(
    arguments: dict[str, Any], *, services: Any, token: str | None, session_id: str | None
) -> Any:
    return {
        "files": _interpreter(services).read_files(
            arguments["paths"], session=_session(arguments, session_id), token=token
        )
    }


def _list_files(
    arguments: dict[str, Any], *, services: Any, token: str | None, session_id: str | None
) -> Any:
    return {
        "files": _interpreter(services).list_files(
            arguments.get("directoryPath", "."), session=_session(arguments, session_id), token=token
        )
    }


def _remove_files(
    arguments: dict[str, Any], *, services: Any, token: str | None, session_id: str | None
) -> Any:
    removed = _interpreter(services).remove_files(
        arguments["paths"], session=_session(arguments, session_id), token=token
    )
    return {"files": [{"path": p, "removed": True} for p in removed]}


_PATHS = {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}


def builtin_tools() -> list[dict[str, Any]]:
    """The interpreter's tools for the gateway (fresh dicts on each call)."""
    return [
        {
            "name": "executeCode",
            "description": "Run Python, JavaScript or R code in a sandboxed, stateful session (no network). "
            "Variables persist between calls unless clearContext is true; files live in /workspace.",
            "inputSchema": {
                "type": "object",
                "required": ["code"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "description": "Source code to run."},
                    "language": {
                        "type": "string",
                        "enum": ["python", "javascript", "r"],
                        "default": "python",
                    },
                    "clearContext": {
                        "type": "boolean",
                        "default": False,
                        "description": "Start from a fresh interpreter.",
                    },
                    "timeout": {
                        "type": "number",
                        "exclusiveMinimum": 0,
                        "description": "Wall-clock limit, seconds.",
                    },
                    "sessionName": _SESSION_PROP,
                },
            },
            "outputSchema": EXECUTION_SCHEMA,
            "handler": _execute_code,
        },
        {
            "name": "executeCommand",
            "description": "Run a shell command (/bin/sh -c) in the sandbox, in the session's /workspace.",
            "inputSchema": {
                "type": "object",
                "required": ["command"],
                "additionalProperties": False,
                "properties": {
                    "command": {"type": "string", "minLength": 1},
                    "timeout": {"type": "number", "exclusiveMinimum": 0},
                    "sessionName": _SESSION_PROP,
                },
            },
            "outputSchema": EXECUTION_SCHEMA,
            "handler": _execute_command,
        },
        {
            "name": "writeFiles",
            "description": "Write text or base64 files into the session's /workspace.",
            "inputSchema": {
                "type": "object",
                "required": ["content"],
                "additionalProperties": False,
                "properties": {
                    "content": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["path"],
                            "properties": {
                                "path": {"type": "string", "minLength": 1},
                                "text": {"type": "string"},
                                "blob": {"type": "string", "description": "base64 bytes"},
                            },
                            "oneOf": [{"required": ["text"]}, {"required": ["blob"]}],
                        },
                    },
                    "sessionName": _SESSION_PROP,
                },
            },
            "outputSchema": FILES_SCHEMA,
            "handler": _write_files,
        },
        {
            "name": "readFiles",
            "description": "Read files from the session's /workspace (text, or base64 blob for binary).",
            "inputSchema": {
                "type": "object",
                "required": ["paths"],
                "additionalProperties": False,
                "properties": {"paths": _PATHS, "sessionName": _SESSION_PROP},
            },
            "outputSchema": FILES_SCHEMA,
            "handler": _read_files,
        },
        {
            "name": "listFiles",
            "description": "List a directory of the session's /workspace.",
            "inputSchema": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "directoryPath": {"type": "string", "default": "."},
                    "sessionName": _SESSION_PROP,
                },
            },
            "outputSchema": FILES_SCHEMA,
            "handler": _list_files,
        },
        {
            "name": "removeFiles",
            "description": "Delete files or directories from the session's /workspace.",
            "inputSchema": {
                "type": "object",
                "required": ["paths"],
                "additionalProperties": False,
                "properties": {"paths": _PATHS, "sessionName": _SESSION_PROP},
            },
            "outputSchema": FILES_SCHEMA,
            "handler": _remove_files,
        },
    ]
