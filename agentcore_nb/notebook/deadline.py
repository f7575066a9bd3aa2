"""``%%node --timeout`` for a cell that runs on the kernel's main thread: a SIGALRM timer whose
handler raises :class:`CellTimeout` in the cell's code, the way Ctrl-C raises KeyboardInterrupt.

The timer is real (``setitimer``), so a cell blocked in ``time.sleep`` or a socket read is woken
too. ``CellTimeout`` derives from ``BaseException``, so a cell's ``except Exception`` does not
swallow it. A signal that fires just as the cell finishes is absorbed here, never raised into the
kernel. Off the main thread (no signals there) the limit is checked when the attempt ends.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class CellTimeout(BaseException):
    """A cell ran longer than its ``%%node --timeout``; shown as one line."""

    def __init__(self, node: str, seconds: float) -> None:
        self.node, self.seconds = node, seconds
        super().__init__(f"cell '{node}' timed out after {seconds:g}s (%%node --timeout)")


class _Alarm:
    def __init__(self, node: str, seconds: float) -> None:
        self.node, self.seconds = node, seconds
        self.active = True
        self.fired = False
        self.handled = False

    def handler(self, signum: int, frame: Any) -> None:
        self.handled = True
        if self.active:
            self.active = False
            raise CellTimeout(self.node, self.seconds)


@contextmanager
def deadline(node: str, seconds: float | None) -> Iterator[None]:
    """Raise :class:`CellTimeout` in this (main) thread when the block runs past ``seconds``."""
    if seconds is None:
        yield
        return
    if threading.current_thread() is not threading.main_thread():
        t0 = time.monotonic()
        yield
        if time.monotonic() - t0 > seconds:
            raise CellTimeout(node, seconds)
        return
    alarm = _Alarm(node, seconds)
    previous = signal.signal(signal.SIGALRM, alarm.handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        remaining = 0.0
        try:
            remaining, _ = signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            alarm.active = False
            if remaining == 0 and not alarm.handled:
                # the timer expired as the block ended: let its handler run here (it does nothing now)
                until = time.monotonic() + 1.0
                while not alarm.handled and time.monotonic() < until:
                    time.sleep(0.001)
            signal.signal(signal.SIGALRM, previous)


__all__ = ["CellTimeout", "deadline"]
