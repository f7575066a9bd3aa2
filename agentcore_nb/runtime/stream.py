"""Streamed outputs, cancellation and tracked background work: what a served graph needs from a node.

A node whose body returns a generator streams: each value it yields goes to the run's stream sink
(``run.state["stream"]``, set by ``agentcore serve``) as it is produced, and the node's output (in
the log, and for its dependents) is the list of values. A run whose ``cancel`` event is set (the
client went away) stops between streamed values and is recorded as cancelled.

Background work a node starts with :meth:`NodeContext.background` runs in a daemon thread and is
counted in :data:`background_tasks` (``GET /ping`` says ``HealthyBusy`` while any runs).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import NodeContext

STREAM_KEY = "stream"
VALUE_KEY = "$value"


class RunCancelled(Exception):
    """The run was cancelled while this node ran (the client disconnected)."""

    retryable = False


def _drain(ctx: NodeContext, gen: Generator[Any, Any, Any]) -> list[Any]:
    sink: Callable[[NodeContext, Any], None] | None = ctx.run.state.get(STREAM_KEY)
    items: list[Any] = []
    try:
        for item in gen:
            if ctx.run.cancel.is_set():
                raise RunCancelled("run was cancelled (the client went away)")
            items.append(item)
            if sink is not None:
                sink(ctx, item)
    finally:
        gen.close()
    return items


def _drain_async(ctx: NodeContext, agen: AsyncGenerator[Any, Any]) -> list[Any]:
    """An async generator, run to its end on a loop of this (worker) thread."""

    sink: Callable[[NodeContext, Any], None] | None = ctx.run.state.get(STREAM_KEY)

    async def pump() -> list[Any]:
        items: list[Any] = []
        try:
            async for item in agen:
                if ctx.run.cancel.is_set():
                    raise RunCancelled("run was cancelled (the client went away)")
                items.append(item)
                if sink is not None:
                    sink(ctx, item)
        finally:
            await agen.aclose()
        return items

    return asyncio.run(pump())


def drain_output(ctx: NodeContext, value: Any) -> Any:
    """A generator output (or a cell's ``$value`` that is one) consumed and streamed as it runs."""
    if isinstance(value, Generator):
        return _drain(ctx, value)
    if isinstance(value, AsyncGenerator):
        return _drain_async(ctx, value)
    if isinstance(value, dict) and isinstance(value.get(VALUE_KEY), Generator):
        out = type(value)(value)  # keeps a cell's names type (it marks unsaveable names)
        out[VALUE_KEY] = _drain(ctx, value[VALUE_KEY])
        return out
    return value


class BackgroundTasks:
    """Counts background work in flight; remembers when the busy/idle status last changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self.changed = int(time.time())

    @property
    def active(self) -> int:
        return self._active

    def _add(self, n: int) -> None:
        with self._lock:
            before = self._active > 0
            self._active += n
            if (self._active > 0) != before:
                self.changed = int(time.time())

    def start(
        self, fn: Callable[..., Any], *args: Any, name: str = "agentcore-background"
    ) -> threading.Thread:
        """Run ``fn(*args)`` in a daemon thread, counted until it returns (or raises)."""
        self._add(1)

        def run() -> None:
            try:
                fn(*args)
            except Exception:
                pass  # background work reports through its own events; the count must still drop
            finally:
                self._add(-1)

        thread = threading.Thread(target=run, name=name, daemon=True)
        try:
            thread.start()
        except BaseException:
            self._add(-1)
            raise
        return thread


#: The process's background work (one per process, as ``GET /ping`` reports one status).
background_tasks = BackgroundTasks()
