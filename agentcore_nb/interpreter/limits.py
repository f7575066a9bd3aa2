"""Resource limits of sandboxed executions, and the names results use when one is hit."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any

from ..errors import AgentcoreError


class InterpreterError(AgentcoreError):
    """The code interpreter was called wrongly or cannot do what was asked."""


class SandboxUnavailableError(InterpreterError):
    """No isolation is available here, so untrusted code is refused."""


#: Names of the limits, as they appear in ``ExecutionResult.limits_hit``.
WALL_TIME = "wall_time"
CPU_TIME = "cpu_time"
MEMORY = "memory"
PROCESSES = "processes"
FILE_SIZE = "file_size"
OPEN_FILES = "open_files"
OUTPUT = "output"
LIMIT_NAMES = (WALL_TIME, CPU_TIME, MEMORY, PROCESSES, FILE_SIZE, OPEN_FILES, OUTPUT)

MiB = 1 << 20


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-execution limits. ``memory_bytes`` is the address space of the interpreter process
    (JavaScript gets a fixed reserve on top, because node maps ~730 MiB before running anything);
    ``processes`` counts processes and threads of the session's user."""

    wall_seconds: float = 30.0
    cpu_seconds: float = 30.0
    memory_bytes: int = 1024 * MiB
    processes: int = 64
    file_size_bytes: int = 64 * MiB
    open_files: int = 256
    output_bytes: int = 1 * MiB
    tmp_bytes: int = 64 * MiB

    def __post_init__(self) -> None:
        problems = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.append(f"{f.name} must be a number, got {value!r}")
            elif not math.isfinite(value) or value <= 0:
                problems.append(f"{f.name} must be positive, got {value!r}")
        if not problems and self.processes < 8:
            problems.append("processes must be at least 8 (interpreters run a few threads)")
        if not problems and self.memory_bytes < 32 * MiB:
            problems.append("memory_bytes must be at least 32 MiB")
        if problems:
            raise InterpreterError("invalid limits: " + "; ".join(problems))

    def replace(self, **changes: Any) -> Limits:
        """A copy with ``changes`` (``None`` values are ignored); unknown names are an error."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise InterpreterError(
                f"unknown limit(s): {', '.join(unknown)}", hint=f"known: {', '.join(sorted(known))}"
            )
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_HOST_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*$"
)


def parse_host_port(text: str) -> tuple[str, int]:
    """``"api.example.com:443"`` -> ``("api.example.com", 443)``, or a one-line error."""
    if not isinstance(text, str):
        raise InterpreterError(f"allow-net entries must be 'HOST:PORT' strings, got {text!r}")
    host, sep, port_text = text.strip().rpartition(":")
    host = host.lower()
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InterpreterError(
            f"allow-net entry {text!r} must look like HOST:PORT", hint="e.g. api.example.com:443"
        )
    if not _HOST_RE.match(host):
        raise InterpreterError(f"allow-net entry {text!r}: {host!r} is not a valid host name or IPv4 address")
    parts = host.split(".")
    if all(p.isdigit() for p in parts):
        if len(parts) != 4 or any(int(p) > 255 for p in parts):
            raise InterpreterError(f"allow-net entry {text!r}: {host!r} is not a valid IPv4 address")
        if parts[0] != "127":
            raise InterpreterError(
                f"allow-net entry {text!r}: give a host name, not an IP address",
                hint="only loopback addresses (127.x.x.x) may be given as numbers",
            )
    return host, int(port_text)
