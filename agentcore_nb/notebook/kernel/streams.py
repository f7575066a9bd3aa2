"""The kernel's ``sys.stdout`` / ``sys.stderr``: ipykernel's streams, minus the empty flushes.

ipykernel's ``OutStream.flush()`` hands the send to the IOPub thread and waits for it, a round
trip between two threads, even when nothing was written. A cell that prints nothing pays six of
them (the display hook, the reply and the idle status each flush both streams), about a third of
a ``1+1`` cell's time on the kernel's main thread. Here a flush with nothing buffered returns at
once: everything the main thread publishes goes through the same IOPub queue, in order, so a
stream's earlier output still precedes the result and the idle status; and the kernel waits for
the IOPub thread once before each ``execute_reply`` (:meth:`AgentcoreKernel.finish_metadata`) and
each ``input_request`` (the two messages a cell causes on another socket), so what a cell
published is handed to the socket before them, as in the stock kernel.

A flush with output buffered, an echoing stream (``--no-quiet``) or a forked child's stream
behaves exactly as ipykernel's.
"""

from __future__ import annotations

import threading
from typing import Any

from ipykernel.iostream import OutStream as _OutStream


class OutStream(_OutStream):
    """ipykernel's ``OutStream`` whose flush skips the IOPub round trip when there is nothing to send."""

    def flush(self) -> None:
        if not self._buffers and self.echo is None:
            return  # nothing written since the last flush: nothing to wait for
        super().flush()


def iopub_barrier(pub_thread: Any, timeout: float = 10.0) -> None:
    """Wait until the IOPub thread has sent everything queued before this call (one round trip)."""
    thread = getattr(pub_thread, "thread", None)
    if thread is None or not thread.is_alive() or thread.ident == threading.get_ident():
        return
    done = threading.Event()
    pub_thread.schedule(done.set)
    done.wait(timeout)


__all__ = ["OutStream", "iopub_barrier"]
