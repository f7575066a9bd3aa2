"""The ``code`` node kind: sandboxed code as a graph step.

Config: ``code`` (required), ``language`` (python | javascript | r; default python), ``session``
(default: the run's session, so code nodes of one run share variables), ``timeout`` (seconds),
``allow_net`` (``["host:port", ...]``), ``clear_context``. The node's inputs (JSON values) are bound
as variables before the code runs. The output is the execution result as a dict; an error or a hit
limit fails the node with one line.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from ..errors import AgentcoreError
from ..graph.spec import Node
from ..observability import conventions as conv
from ..runtime.context import NodeContext
from ..runtime.executors import Body, register_executor
from .limits import InterpreterError, parse_host_port
from .result import ExecutionResult
from .sandbox import LANGUAGE_ALIASES, normalize_language
from .service import TOOL_NAME, Interpreter
from .session import SESSION_NAME_RE

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_default: Interpreter | None = None
_default_lock = threading.Lock()


class CodeExecutionError(AgentcoreError):
    """Sandboxed code raised, or a limit stopped it."""

    def __init__(self, result: ExecutionResult) -> None:
        self.result = result
        super().__init__(f"{result.language}: {result.error_line()}")


def default_interpreter() -> Interpreter:
    """For runtimes built without a project: one interpreter per process on the state dir."""
    global _default
    with _default_lock:
        if _default is None:
            from ..home import state_dir

            _default = Interpreter(state_dir() / "interpreter")
        return _default


def interpreter_of(ctx: NodeContext) -> Interpreter:
    try:
        found = ctx.services["interpreter"]
    except KeyError:
        return default_interpreter()
    return found  # type: ignore[no-any-return]


def prelude(language: str, inputs: dict[str, Any]) -> str:
    """Source lines that bind ``inputs`` as variables in ``language``."""
    lines = []
    for name, value in inputs.items():
        if not _IDENT.match(name):
            raise InterpreterError(f"input name {name!r} is not a valid variable name")
        try:
            text = json.dumps(value)
        except (TypeError, ValueError):
            raise InterpreterError(
                f"input {name!r} is a {type(value).__name__}, which cannot be passed into the sandbox",
                hint="code nodes take JSON values (numbers, strings, lists, dicts)",
            ) from None
        if language == "python":
            lines.append(f"{name} = __import__('json').loads({json.dumps(text)})")
        elif language == "javascript":
            lines.append(f"var {name} = {text};")
        else:
            lines.append(f"{name} <- {r_literal(value)}")
    return "\n".join(lines) + ("\n" if lines else "")


def r_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return (
            repr(value)
            if isinstance(value, float)
            else f"{value}L"
            if abs(value) < 2**31
            else repr(float(value))
        )
    if isinstance(value, str):
        return json.dumps(value)  # R accepts JSON string escapes
    if isinstance(value, list):
        return "list(" + ", ".join(r_literal(v) for v in value) + ")"
    if isinstance(value, dict):
        return "list(" + ", ".join(f"{json.dumps(str(k))} = {r_literal(v)}" for k, v in value.items()) + ")"
    raise InterpreterError(f"cannot pass a {type(value).__name__} into R")


def session_for(ctx: NodeContext, configured: str | None) -> str:
    if configured:
        return configured
    name = re.sub(r"[^A-Za-z0-9_.\-]", "-", ctx.session_id or ctx.run_id)[:120]
    return f"run-{name}"


def validate_code_node(node: Node) -> list[str]:
    cfg = node.config
    problems = []
    if not isinstance(cfg.get("code"), str):
        problems.append("a code node needs config.code (a string)")
    lang = cfg.get("language", "python")
    if not isinstance(lang, str) or lang.strip().lower() not in LANGUAGE_ALIASES:
        problems.append(f"config.language {lang!r} is not one of python, javascript, r")
    session = cfg.get("session")
    if session is not None and (not isinstance(session, str) or not SESSION_NAME_RE.match(session)):
        problems.append(f"config.session {session!r} is not a valid session name")
    timeout = cfg.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
    ):
        problems.append(f"config.timeout must be a positive number of seconds, got {timeout!r}")
    allow = cfg.get("allow_net") or []
    if not isinstance(allow, list):
        problems.append("config.allow_net must be a list of 'host:port' strings")
    else:
        for entry in allow:
            try:
                parse_host_port(entry)
            except InterpreterError as exc:
                problems.append(str(exc))
    return problems


class CodeExecutor:
    kind = "code"

    def prepare(self, node: Node) -> Body:
        cfg = node.config
        code: str = cfg["code"]
        language = normalize_language(cfg.get("language", "python"))

        def run(ctx: NodeContext, inputs: dict[str, Any]) -> dict[str, Any]:
            result = interpreter_of(ctx).execute_code(
                prelude(language, inputs) + code,
                language=language,
                session=session_for(ctx, cfg.get("session")),
                clear_context=bool(cfg.get("clear_context", False)),
                timeout=cfg.get("timeout"),
                allow_net=cfg.get("allow_net"),
                token=ctx.token,
                ctx=ctx,
            )
            if not result.ok:
                raise CodeExecutionError(result)
            return result.to_dict()

        return Body(
            run,
            operation=conv.EXECUTE_TOOL,
            attributes={
                conv.TOOL_NAME: TOOL_NAME,
                conv.TOOL_TYPE: conv.TOOL_TYPE_EXTENSION,
                conv.CODE_LANGUAGE: language,
            },
        )


register_executor(CodeExecutor(), validator=validate_code_node)
