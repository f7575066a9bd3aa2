"""What a failed attempt means under the node's policy, decided and recorded in one place.

The scheduler (graph runs, nodes on workers) and open runs (a notebook's cells, run by the caller)
both call :func:`attempt_failed`: ``NodeFailed``, then ``NodeRetried`` with its backoff delay, or
``NodeRerouted`` to the fallback, or the end; the node's span gets the same status and events.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry.trace import Status, StatusCode

from ..errors import AgentcoreError
from ..events import NodeFailed, NodeRerouted, NodeRetried
from ..observability import conventions as conv

if TYPE_CHECKING:
    from .context import NodeContext


def error_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (no traceback)."""
    if isinstance(exc, AgentcoreError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@dataclass(slots=True)
class Outcome:
    """What follows a failed attempt: ``retry`` after ``delay`` s, ``fallback`` to ``fallback``,
    ``skip`` (``on_error=skip``), or ``failed`` for good. The span is ended unless ``retry``."""

    action: str
    delay: float = 0.0
    fallback: str = ""
    error: str = ""


def attempt_failed(
    ctx: NodeContext,
    error: BaseException,
    duration_s: float,
    rng: random.Random,
    *,
    retryable: bool = True,
    reroute: bool = True,
) -> Outcome:
    """Record a failed attempt of ``ctx``'s node and decide what follows from its policy."""
    policy = ctx.node.policy
    span = ctx.span
    message = error_line(error)
    retryable = retryable and getattr(error, "retryable", True) is not False
    final = not retryable or ctx.attempt > policy.retries
    ctx.emit(
        NodeFailed(
            kind=ctx.node.kind,
            attempt=ctx.attempt,
            error_type=type(error).__name__,
            error=message,
            final=final,
            duration_ms=duration_s * 1000.0,
        )
    )
    if not final:
        delay = policy.backoff.delay(ctx.attempt, rng)
        ctx.emit(NodeRetried(attempt=ctx.attempt + 1, delay_s=delay, error=message))
        span.add_event(conv.RETRY_EVENT, {"attempt": ctx.attempt + 1, "delay_s": delay, "error": message})
        span.set_attribute(conv.ATTEMPT, ctx.attempt + 1)
        return Outcome("retry", delay=delay, error=message)
    span.set_status(Status(StatusCode.ERROR, message))
    span.set_attribute(conv.ERROR_TYPE, type(error).__name__)
    if reroute and policy.on_error == "fallback" and policy.fallback:
        ctx.emit(NodeRerouted(fallback=policy.fallback, error=message))
        span.set_attribute(conv.REROUTED_TO, policy.fallback)
        span.end()
        return Outcome("fallback", fallback=policy.fallback, error=message)
    span.end()
    return Outcome("skip" if policy.on_error == "skip" else "failed", error=message)


__all__ = ["Outcome", "attempt_failed", "error_line"]
