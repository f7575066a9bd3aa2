"""What one execution produced: output, error, rich results, measured resources, limits hit."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

UNSAFE_WARNING = (
    "unsafe_local: this code ran WITHOUT a sandbox, as the host user, with the host's network and files"
)


@dataclass(slots=True)
class ExecutionResult:
    session_id: str
    language: str
    stdout: str = ""
    stderr: str = ""
    #: Exit status of a command; 0 / 1 for code (1 when it raised).
    exit_code: int | None = 0
    #: ``{"name", "message", "traceback"}`` when the code raised or a limit stopped it.
    error: dict[str, str] | None = None
    #: Jupyter-style mime bundles: ``{"data": {"text/html": ..., "image/png": base64, ...}, "metadata"}``.
    results: list[dict[str, Any]] = field(default_factory=list)
    wall_ms: float = 0.0
    cpu_ms: float = 0.0
    peak_memory_bytes: int = 0
    limits_hit: list[str] = field(default_factory=list)
    #: stdout/stderr were cut at the output cap.
    truncated: bool = False
    #: ``bubblewrap`` or ``none (unsafe_local)``.
    sandbox: str = "bubblewrap"
    warning: str = ""
    #: Processes the execution left behind that were killed afterwards.
    reaped: int = 0
    #: The interpreter process had to be killed; the session's variables were lost.
    restarted: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.limits_hit and self.exit_code in (0, None)

    def error_line(self) -> str:
        """One line for users: ``NameError: name 'x' is not defined`` or the limit that stopped it."""
        if self.error:
            name, message = self.error.get("name", "Error"), self.error.get("message", "")
            return f"{name}: {message}" if message else name
        if self.limits_hit:
            return f"limit hit: {', '.join(self.limits_hit)}"
        if self.exit_code not in (0, None):
            return f"exit status {self.exit_code}"
        return ""

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["ok"] = self.ok
        return data

    def summary(self, max_text: int = 4000) -> dict[str, Any]:
        """A compact form for the event log: text cut to ``max_text``, images named, not embedded."""
        return {
            "stdout": self.stdout[:max_text],
            "stderr": self.stderr[:max_text],
            "exit_code": self.exit_code,
            "error": self.error,
            "results": [sorted(r.get("data", {})) for r in self.results],
            "limits_hit": list(self.limits_hit),
            "truncated": self.truncated,
            "reaped": self.reaped,
            "restarted": self.restarted,
        }
