"""Proving that bodies ran at the same time without reading a clock.

A wall-time bound ("four 0.3 s naps took less than 0.7 s") fails on a busy machine and passes
on a fast one for the wrong reason. A rendezvous does not: each body arrives and then waits for
all the others, so the run can only finish if every body was running at once. Run serially, the
first body waits for the rest and gives up at the deadline, which fails the test.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

DEADLINE_S = 60.0


class Rendezvous:
    """``n`` bodies meet here, whether they are threads or coroutines on any event loop."""

    def __init__(self, n: int, deadline_s: float = DEADLINE_S) -> None:
        self.n = n
        self.deadline_s = deadline_s
        self._arrived = 0
        self._present = 0
        self._lock = threading.Lock()
        self.peak = 0  # the most bodies seen waiting here at once

    def _arrive(self) -> None:
        with self._lock:
            self._arrived += 1
            self._present += 1
            self.peak = max(self.peak, self._present)

    def _leave(self) -> None:
        with self._lock:
            self._present -= 1

    def _all_here(self) -> bool:
        with self._lock:
            return self._arrived >= self.n

    def _missing(self) -> str:
        return f"only {self._present} of {self.n} bodies were running at once"

    def meet(self) -> None:
        """Arrive, then block until all ``n`` arrived (raises if they do not)."""
        self._arrive()
        try:
            deadline = time.monotonic() + self.deadline_s
            while not self._all_here():
                if time.monotonic() > deadline:
                    raise TimeoutError(self._missing())
                time.sleep(0.005)
        finally:
            self._leave()

    async def ameet(self) -> None:
        """The coroutine form of :meth:`meet`: it yields to the loop while it waits."""
        self._arrive()
        try:
            deadline = time.monotonic() + self.deadline_s
            while not self._all_here():
                if time.monotonic() > deadline:
                    raise TimeoutError(self._missing())
                await asyncio.sleep(0.005)
        finally:
            self._leave()


def wait_until(predicate: Callable[[], bool], what: str, deadline_s: float = DEADLINE_S) -> None:
    """Poll ``predicate`` until it holds; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + deadline_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.005)
