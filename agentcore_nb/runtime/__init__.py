"""Runs graphs: scheduling, concurrency, retries, timeouts, fallbacks, durable resume."""

from .context import NodeContext, RunContext
from .executors import Body, NodeExecutor, get_executor, register_executor
from .hooks import RunHook
from .runtime import RunResult, Runtime

__all__ = [
    "Body",
    "NodeContext",
    "NodeExecutor",
    "RunContext",
    "RunHook",
    "RunResult",
    "Runtime",
    "get_executor",
    "register_executor",
]
