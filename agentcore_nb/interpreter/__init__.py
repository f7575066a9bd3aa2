"""Sandboxed code execution: Python, JavaScript and R sessions with no network by default.

``project.services["interpreter"]`` is an :class:`Interpreter` on the project's state directory;
``Interpreter(root)`` works without a project. See ``docs/interpreter.md`` for the threat model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..project import register_service
from .limits import LIMIT_NAMES, InterpreterError, Limits, SandboxUnavailableError
from .pool import pool_from_env
from .result import ExecutionResult
from .service import DEFAULT_SESSION, TOOL_NAME, Interpreter

if TYPE_CHECKING:
    from ..project import Project


def _factory(project: Project) -> Interpreter:
    """The project's interpreter: sessions under the state dir, events in the project's log.

    Without bubblewrap this raises :class:`SandboxUnavailableError` when first asked for; build an
    ``Interpreter(..., unsafe_local=True)`` yourself (and install it with ``services.set``) to run
    without isolation on purpose.
    """
    return Interpreter(
        project.home / "interpreter",
        event_log=project.event_log,
        services=project.services,
        pool=pool_from_env(),  # AGENTCORE_INTERPRETER_POOL: off by default
    )


register_service("interpreter", _factory)


def __getattr__(name: str) -> Any:
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_SESSION",
    "LIMIT_NAMES",
    "TOOL_NAME",
    "ExecutionResult",
    "Interpreter",
    "InterpreterError",
    "Limits",
    "SandboxUnavailableError",
]
