"""Where node bodies run: a pool of daemon threads for sync bodies, one event loop for async ones.

The threads are daemons on purpose: a sync body that overruns its timeout cannot be killed, only
abandoned, and it must not keep the process alive at exit (``concurrent.futures`` joins its
workers at exit). Use ``code`` nodes, which run in a sandboxed process, when a body must be
stoppable.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from queue import Empty, SimpleQueue
from typing import Any


class WorkerPool:
    """Threads are started on demand up to ``max_workers`` and then kept for reuse.

    Idle workers leave a token in ``_idle``; ``submit`` takes one (an idle worker will pick the
    task up) or starts a new worker. Both queues are C-level and lock-free from Python's view,
    which keeps dispatch cheap when many nodes become ready at once.
    """

    def __init__(self, max_workers: int = 128, name: str = "agentcore-node") -> None:
        self.max_workers = max_workers
        self._name = name
        self._queue: SimpleQueue[Callable[[], None] | None] = SimpleQueue()
        self._idle: SimpleQueue[int] = SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def submit(self, task: Callable[[], None]) -> None:
        """Run ``task()`` on a worker thread; ``task`` reports its own outcome."""
        try:
            self._idle.get_nowait()
        except Empty:
            with self._lock:
                if len(self._threads) < self.max_workers:
                    thread = threading.Thread(
                        target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
                    )
                    self._threads.append(thread)
                    thread.start()
        self._queue.put(task)

    def _work(self) -> None:
        first = True  # a new worker was started for a task that is already on its way
        while True:
            if not first:
                self._idle.put(1)
            first = False
            task = self._queue.get()
            if task is None:
                return
            task()

    @property
    def size(self) -> int:
        return len(self._threads)

    def shutdown(self) -> None:
        with self._lock:
            threads = list(self._threads)
            self._threads.clear()
        for _ in threads:
            self._queue.put(None)


class LoopThread:
    """One asyncio loop in a daemon thread for async node bodies."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                threading.Thread(target=run, name="agentcore-async", daemon=True).start()
                ready.wait()
                self._loop = loop
            return self._loop

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop())

    def shutdown(self) -> None:
        with self._lock:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop = None
