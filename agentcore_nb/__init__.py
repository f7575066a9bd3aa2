"""agentcore-nb: prototype AI agents in Jupyter as execution graphs, and ship the same graph.

The public API is what ``__all__`` lists; everything else is private and may change.
"""

from ._version import __version__
from .errors import AgentcoreError, GraphError, NodeError
from .eventlog import DuckDBEventLog, EventLog, InMemoryEventLog, open_event_log
from .events import (
    ActionEvent,
    AgentInvocationEvent,
    Event,
    MemoryUpdateEvent,
)
from .graph import Backoff, Graph, Node, Policy, load_graph, save_graph
from .runtime import NodeContext, RunHook, RunResult, Runtime, register_executor

#: Public names whose modules load on first use (``from agentcore_nb import Interpreter``).
_LAZY = {
    "Interpreter": "agentcore_nb.interpreter",
    "ExecutionResult": "agentcore_nb.interpreter",
    "Memory": "agentcore_nb.memory",
    "Gateway": "agentcore_nb.gateway",
    "ToolSpec": "agentcore_nb.gateway",
    "ToolError": "agentcore_nb.gateway",
    "Project": "agentcore_nb.project",
    "Agent": "agentcore_nb.agent",
    "AgentResult": "agentcore_nb.agent",
    "complete_text": "agentcore_nb.models",
    "Identity": "agentcore_nb.identity",
    "NotPermittedError": "agentcore_nb.errors",
    "StateOwnerLostError": "agentcore_nb.state",
    "export_notebook": "agentcore_nb.export",
    "load_bundle": "agentcore_nb.export",
    "run_bundle": "agentcore_nb.export",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentcore_nb' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext agentcore_nb``: magics, cell tracking and widgets in a stock IPython kernel."""
    from .notebook.extension import load

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    """``%unload_ext agentcore_nb``: remove everything ``%load_ext`` installed."""
    from .notebook.extension import unload

    unload(ipython)


__all__ = [
    "ActionEvent",
    "Agent",
    "AgentInvocationEvent",
    "AgentResult",
    "AgentcoreError",
    "Backoff",
    "DuckDBEventLog",
    "Event",
    "EventLog",
    "ExecutionResult",
    "Gateway",
    "Graph",
    "GraphError",
    "Identity",
    "InMemoryEventLog",
    "Interpreter",
    "Memory",
    "MemoryUpdateEvent",
    "Node",
    "NodeContext",
    "NodeError",
    "NotPermittedError",
    "Policy",
    "Project",
    "RunHook",
    "RunResult",
    "Runtime",
    "StateOwnerLostError",
    "ToolError",
    "ToolSpec",
    "__version__",
    "complete_text",
    "export_notebook",
    "load_bundle",
    "load_graph",
    "load_ipython_extension",
    "open_event_log",
    "register_executor",
    "run_bundle",
    "save_graph",
    "unload_ipython_extension",
]
