"""The AgentCore kernel: IPython's kernel with the notebook features loaded from the start.

Everything ``%load_ext agentcore_nb`` gives a stock kernel (cells as graph nodes, ``%graph``,
``%%node``, the magics of every component, the ``agentcore.graph`` comm) is loaded at start-up
through IPython's extension manager, so ``%unload_ext agentcore_nb`` and ``%reload_ext`` behave as
they do elsewhere. Interrupt, restart and shutdown are the stock kernel's.

Two things differ from the stock kernel, both for a cell's round trip: a flush of an empty
``sys.stdout`` / ``sys.stderr`` does not wait for the IOPub thread (:mod:`.streams`; one wait
before each ``execute_reply`` keeps the stock ordering), and a cell's after-reply bookkeeping runs
once its idle status has been sent (:meth:`AgentcoreKernel.after_idle`).

Launched as ``python -m agentcore_nb.notebook.kernel -f {connection_file}`` (see ``kernel/``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from ipykernel.ipkernel import IPythonKernel

from ..._version import __version__
from ..kernel_names import DISPLAY_NAME, KERNEL_NAME
from .streams import IOPubProgress

#: The kernel's stdout / stderr: ipykernel's, minus the empty flushes' thread round trips.
OUTSTREAM_CLASS = "agentcore_nb.notebook.kernel.streams.OutStream"


class AgentcoreKernel(IPythonKernel):
    implementation = "agentcore"
    implementation_version = __version__
    banner = (
        f"AgentCore (Python 3), agentcore-nb {__version__}: every cell is a node of the notebook's graph.\n"
        "%graph shows it, %graph run re-runs it, %agentcore lists the magics."
    )

    def __init__(self, **kwargs: Any) -> None:
        cache_signature_checks()
        #: Work for the main thread once the request's idle status is sent (:meth:`after_idle`).
        self._after_idle: list[Callable[[], None]] = []  # this request's
        self._idle_ready: list[Callable[[], None]] = []  # its idle status is published
        self._idle_loop: asyncio.AbstractEventLoop | None = None
        super().__init__(**kwargs)
        self._iopub = IOPubProgress(self.iopub_thread) if self.iopub_thread is not None else None
        if self.shell is not None:
            # through IPython's extension manager (so %unload_ext / %reload_ext work), lazily:
            # what a cell needs is imported when the first cell needs it
            self.shell._agentcore_lazy = True
            try:
                self.shell.extension_manager.load_extension("agentcore_nb")
            finally:
                self.shell._agentcore_lazy = False

    def finish_metadata(self, parent: Any, metadata: Any, reply_content: Any) -> Any:
        """Right before the ``execute_reply``: what the cell published is on its way first (the
        streams' empty flushes no longer wait, :mod:`.streams`)."""
        self._iopub_barrier()
        return super().finish_metadata(parent, metadata, reply_content)

    def _input_request(self, prompt: str, ident: Any, parent: Any, password: bool = False) -> str:
        """``input()``: the cell's outputs so far are on their way before the prompt, as in the
        stock kernel (the ``input_request`` goes out on the stdin socket, not through IOPub)."""
        self._iopub_barrier()
        return super()._input_request(prompt, ident, parent, password=password)  # type: ignore[no-any-return]

    def _iopub_barrier(self) -> None:
        if self._iopub is not None:
            self._iopub.barrier()

    def after_idle(self, fn: Callable[[], None]) -> bool:
        """Run ``fn`` on the main thread once the IOPub thread has sent the idle status of the shell
        request being handled, so it takes no time from that request (nor the GIL from the thread
        sending its idle), and before the next shell message is handled. False, and nothing
        done, outside a shell request on the main thread."""
        lock = getattr(self, "_main_asyncio_lock", None)
        if lock is None or not lock.locked() or threading.current_thread() is not threading.main_thread():
            return False
        try:
            self._idle_loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self._after_idle.append(fn)
        return True

    def _publish_status(self, status: str, channel: str, parent: Any = None) -> None:
        super()._publish_status(status, channel, parent)
        if status != "idle" or channel != "shell" or not self._after_idle:
            return
        if threading.current_thread() is not threading.main_thread():
            return  # a subshell's request: the main thread's work waits for its own idle
        self._idle_ready += self._after_idle
        self._after_idle = []
        loop = self._idle_loop
        if loop is None:
            self._run_after_idle()
            return

        def wake() -> None:  # on the IOPub thread, right after it sent the idle status
            try:
                loop.call_soon_threadsafe(self._run_after_idle)
            except RuntimeError:  # the loop is closed (shutdown): the runner's exit hook drains
                pass

        self.iopub_thread.schedule(wake)

    def _run_after_idle(self) -> None:
        """What the last request left for after its idle status (whichever comes first: the IOPub
        thread's wake-up or the next shell message)."""
        while self._idle_ready:
            fn = self._idle_ready.pop(0)
            try:
                fn()
            except Exception:
                self.log.error("agentcore: work after the idle status failed", exc_info=True)

    async def dispatch_shell(self, *args: Any, **kwargs: Any) -> None:
        if self._idle_ready and threading.current_thread() is threading.main_thread():
            try:
                self._run_after_idle()  # the previous request's work before this one (order kept)
            except KeyboardInterrupt:  # landed in the bookkeeping: the request is still handled
                self.log.error("KeyboardInterrupt caught in kernel.")
        await super().dispatch_shell(*args, **kwargs)


def cache_signature_checks() -> None:
    """ipykernel reads ``shell.run_cell_async``'s signature (``inspect.signature``, about 20 µs) on
    every ``execute_request`` to know whether it takes ``cell_id``; the answer only changes when
    the method does, so it is cached per function."""
    from ipykernel import ipkernel

    original = ipkernel._accepts_parameters
    if getattr(original, "_agentcore_cached", False):
        return
    cache: dict[tuple[Any, tuple[str, ...]], dict[str, bool]] = {}

    def accepts_parameters(meth: Any, param_names: list[str]) -> dict[str, bool]:
        key = (getattr(meth, "__func__", meth), tuple(param_names))
        found = cache.get(key)
        if found is None:
            if len(cache) >= 64:  # a method rebuilt on every call: keep the cache small
                cache.clear()
            found = cache[key] = original(meth, param_names)
        return dict(found)

    accepts_parameters._agentcore_cached = True  # type: ignore[attr-defined]
    ipkernel._accepts_parameters = accepts_parameters


def main() -> None:
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(kernel_class=AgentcoreKernel, outstream_class=OUTSTREAM_CLASS)


__all__ = ["DISPLAY_NAME", "KERNEL_NAME", "AgentcoreKernel", "main"]
