"""Errors users see: each one prints as a single line that says what is wrong and how to fix it."""

from __future__ import annotations


class AgentcoreError(Exception):
    """Base of every error the project raises on purpose.

    ``str(err)`` is the one-line message shown to users (CLI, magics, HTTP); no traceback needed.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else f"{message} ({hint})")


class GraphError(AgentcoreError):
    """A graph spec is malformed or invalid; ``problems`` lists every offending node."""

    def __init__(self, message: str, problems: list[str] | None = None, *, hint: str | None = None):
        self.problems = list(problems or [])
        if self.problems and len(self.problems) > 1:
            message = f"{message}: " + "; ".join(self.problems)
        elif self.problems:
            message = f"{message}: {self.problems[0]}"
        super().__init__(message, hint=hint)


class SerializationError(AgentcoreError):
    """A value cannot be stored in the event log."""


class EventLogError(AgentcoreError):
    """The event log cannot be opened, read or written."""


class StoreLockedError(EventLogError):
    """Another process holds the project's database for writing."""


class DatabaseDamagedError(EventLogError):
    """The project's database file (or its write-ahead log) is damaged: empty, garbage, truncated."""


class NodeError(AgentcoreError):
    """A node failed; ``error`` is its one-line error (``Type: message``)."""

    def __init__(self, node: str, error: str) -> None:
        self.node = node
        self.error = error
        super().__init__(f"node '{node}' failed: {error}")


class NotPermittedError(AgentcoreError):
    """A scoped identity does not allow the requested action."""

    #: Retrying the same call with the same token is refused again: the runtime does not retry it.
    retryable = False
