"""The AgentCore kernel: IPython's kernel with the notebook features loaded from the start.

Everything ``%load_ext agentcore_nb`` gives a stock kernel (cells as graph nodes, ``%graph``,
``%%node``, the magics of every component, the ``agentcore.graph`` comm) is loaded at start-up
through IPython's extension manager, so ``%unload_ext agentcore_nb`` and ``%reload_ext`` behave as
they do elsewhere. Interrupt, restart and shutdown are the stock kernel's.

Launched as ``python -m agentcore_nb.notebook.kernel -f {connection_file}`` (see ``kernel/``).
"""

from __future__ import annotations

from typing import Any

from ipykernel.ipkernel import IPythonKernel

from ..._version import __version__
from ..kernel_names import DISPLAY_NAME, KERNEL_NAME
from .streams import iopub_barrier

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
        super().__init__(**kwargs)
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
        iopub_barrier(self.iopub_thread)
        return super().finish_metadata(parent, metadata, reply_content)


def main() -> None:
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(kernel_class=AgentcoreKernel, outstream_class=OUTSTREAM_CLASS)


__all__ = ["DISPLAY_NAME", "KERNEL_NAME", "AgentcoreKernel", "main"]
