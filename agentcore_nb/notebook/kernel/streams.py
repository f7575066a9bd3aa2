"""The kernel's ``sys.stdout`` / ``sys.stderr``: ipykernel's streams, minus the empty flushes.

ipykernel's ``OutStream.flush()`` hands the send to the IOPub thread and waits for it, a round
trip between two threads, even when nothing was written. A cell that prints nothing pays six of
them (the display hook, the reply and the idle status each flush both streams), about a third of
a ``1+1`` cell's time on the kernel's main thread. Here a flush with nothing buffered returns at
once: everything the main thread publishes goes through the same IOPub queue, in order, so a
stream's earlier output still precedes the result and the idle status; and before each
``execute_reply`` (:meth:`AgentcoreKernel.finish_metadata`) and ``input_request`` (the two
messages a cell causes on another socket) the kernel waits until the IOPub thread has sent what
was queued (:class:`IOPubProgress`: no wait when it is already through), so what a cell published
is handed to the socket before them, as in the stock kernel.

A flush with output buffered, an echoing stream (``--no-quiet``) or a forked child's stream
behaves exactly as ipykernel's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ipykernel.iostream import OutStream as _OutStream


class OutStream(_OutStream):
    """ipykernel's ``OutStream`` whose flush skips the IOPub round trip when there is nothing to send."""

    def flush(self) -> None:
        if not self._buffers and self.echo is None:
            return  # nothing written since the last flush: nothing to wait for
        super().flush()


class IOPubProgress:
    """Counts what is handed to the IOPub thread and what it has done, so that a barrier with
    nothing outstanding costs nothing (at a cell's reply the thread has usually sent everything
    already: then there is no round trip to make)."""

    def __init__(self, pub_thread: Any) -> None:
        self.pub_thread = pub_thread
        self.scheduled = 0  # written under the lock, in the order of the IOPub queue
        self.done = 0  # written by whoever runs the events: the IOPub thread, in queue order
        self._lock = threading.RLock()
        self._schedule = pub_thread.schedule
        pub_thread.schedule = self.schedule

    def schedule(self, f: Callable[[], Any]) -> None:
        def counted() -> None:
            try:
                f()
            finally:
                self.done += 1

        thread = getattr(self.pub_thread, "thread", None)
        if thread is None or not thread.is_alive():  # ipykernel runs it here and now (a forked
            self._schedule(f)  # child, a shutdown): nothing queued to count
            return
        with self._lock:  # reentrant: should the thread stop now, ``counted`` runs in here
            self.scheduled += 1
            self._schedule(counted)

    def barrier(self, timeout: float = 10.0) -> None:
        """Wait until the IOPub thread has sent everything queued before this call."""
        if self.done >= self.scheduled:
            return  # nothing outstanding
        iopub_barrier(self.pub_thread, timeout)


def iopub_barrier(pub_thread: Any, timeout: float = 10.0) -> None:
    """Wait until the IOPub thread has sent everything queued before this call (one round trip)."""
    thread = getattr(pub_thread, "thread", None)
    if thread is None or not thread.is_alive() or thread.ident == threading.get_ident():
        return
    done = threading.Event()
    pub_thread.schedule(done.set)
    done.wait(timeout)


__all__ = ["IOPubProgress", "OutStream", "iopub_barrier"]
