"""agentcore-nb: prototype AI agents in Jupyter as execution graphs, and ship the same graph.

The public API is what ``__all__`` lists; everything else is private and may change.
"""

from ._version import __version__

#: Public names, each loaded from its module on first use (``from agentcore_nb import Runtime``):
#: importing the package (as the kernel does at start-up) loads nothing heavy.
_LAZY = {
    "AgentcoreError": "agentcore_nb.errors",
    "GraphError": "agentcore_nb.errors",
    "NodeError": "agentcore_nb.errors",
    "NotPermittedError": "agentcore_nb.errors",
    "DuckDBEventLog": "agentcore_nb.eventlog",
    "EventLog": "agentcore_nb.eventlog",
    "InMemoryEventLog": "agentcore_nb.eventlog",
    "open_event_log": "agentcore_nb.eventlog",
    "ActionEvent": "agentcore_nb.events",
    "AgentInvocationEvent": "agentcore_nb.events",
    "Event": "agentcore_nb.events",
    "MemoryUpdateEvent": "agentcore_nb.events",
    "Backoff": "agentcore_nb.graph",
    "Graph": "agentcore_nb.graph",
    "Node": "agentcore_nb.graph",
    "Policy": "agentcore_nb.graph",
    "load_graph": "agentcore_nb.graph",
    "save_graph": "agentcore_nb.graph",
    "NodeContext": "agentcore_nb.runtime",
    "RunHook": "agentcore_nb.runtime",
    "RunResult": "agentcore_nb.runtime",
    "Runtime": "agentcore_nb.runtime",
    "register_executor": "agentcore_nb.runtime",
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

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext agentcore_nb``: magics, cell tracking and widgets in a stock IPython kernel."""
    from .notebook.extension import load

    load(ipython, lazy=bool(getattr(ipython, "_agentcore_lazy", False)))


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
