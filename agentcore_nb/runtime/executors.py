"""One registry of node executors, by node kind.

An executor turns a :class:`Node` into a :class:`Body` once per graph (import callables, compile
code, look up tools); the runtime then calls ``body.call(ctx, inputs)`` for every attempt. The
``python`` kind is built in. The other kinds are provided by their components, which are imported
on first use from :data:`PROVIDERS` (``tool`` -> the gateway, ``code`` -> the interpreter, ...)
or registered explicitly with :func:`register_executor`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import AgentcoreError, GraphError
from ..graph.analysis import defined_names
from ..graph.spec import Node, resolve_callable
from ..graph.validate import KIND_VALIDATORS
from ..observability import conventions as conv
from ..observability.conventions import OPERATIONS as OPERATIONS
from .session_state import PARAM, wants_session_state

if TYPE_CHECKING:
    from .context import NodeContext

#: Module that registers the executor for a kind when imported (components fill these in).
PROVIDERS: dict[str, str] = {
    "tool": "agentcore_nb.gateway.executor",
    "memory": "agentcore_nb.memory.executor",
    "code": "agentcore_nb.interpreter.executor",
    "reason": "agentcore_nb.models.executor",
    "agent": "agentcore_nb.agent.executor",
    "mesh": "agentcore_nb.mesh.executor",
}


@dataclass(slots=True)
class Body:
    """A prepared node: what to call and how to trace it."""

    call: Callable[..., Any]
    is_async: bool = False
    operation: str = conv.EXECUTE_NODE
    span_name: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    #: Names a code body defines (their values are saved for resume).
    defines: tuple[str, ...] = ()


class NodeExecutor(Protocol):
    kind: str

    def prepare(self, node: Node) -> Body: ...


_registry: dict[str, NodeExecutor] = {}
_registry_lock = threading.Lock()
_version = 0


def register_executor(
    executor: NodeExecutor, *, validator: Callable[[Node], list[str]] | None = None
) -> None:
    """Install the executor for ``executor.kind`` (replacing any previous one)."""
    global _version
    with _registry_lock:
        _registry[executor.kind] = executor
        _version += 1
    if validator is not None:
        KIND_VALIDATORS[executor.kind] = validator


def registry_version() -> int:
    return _version


def get_executor(kind: str) -> NodeExecutor:
    executor = _registry.get(kind)
    if executor is None and kind in PROVIDERS:
        try:
            importlib.import_module(PROVIDERS[kind])
        except ImportError:
            pass
        executor = _registry.get(kind)
    if executor is None:
        raise AgentcoreError(
            f"no executor is installed for node kind '{kind}'",
            hint="the component that runs this kind is not available in this installation",
        )
    return executor


# ---------------------------------------------------------------------------- python


def _compile_cell(code: str, filename: str) -> tuple[Any, Any]:
    """Compile cell-like code: statements, plus the last expression evaluated for its value."""
    try:
        tree = ast.parse(code, filename=filename, mode="exec")
    except SyntaxError as exc:
        raise GraphError(f"{filename}: syntax error at line {exc.lineno}: {exc.msg}") from None
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        expr = tree.body.pop()
        last = compile(ast.Expression(expr.value), filename, "eval")  # type: ignore[attr-defined]
    return compile(tree, filename, "exec"), last


class PythonExecutor:
    """Runs a Python callable (inputs as keyword arguments) or cell-like code in the run namespace."""

    kind = "python"

    def prepare(self, node: Node) -> Body:
        attrs = {conv.TOOL_NAME: node.name, conv.TOOL_TYPE: "function"}
        if "code" in node.config:
            return self._prepare_code(node, attrs)
        fn = node.config["callable"]
        if isinstance(fn, str):
            fn = resolve_callable(fn)
        wants_ctx = False
        try:
            params = inspect.signature(fn).parameters
            wants_ctx = "ctx" in params and "ctx" not in node.inputs
        except (TypeError, ValueError):
            pass
        is_async = inspect.iscoroutinefunction(fn)
        if wants_session_state(fn, node.inputs):
            return _session_body(fn, wants_ctx, is_async, attrs)
        if wants_ctx:
            if is_async:

                async def call_async_ctx(ctx: NodeContext, inputs: dict[str, Any]) -> Any:
                    return await fn(ctx=ctx, **inputs)

                return Body(call_async_ctx, True, attributes=attrs)
            return Body(lambda ctx, inputs: fn(ctx=ctx, **inputs), attributes=attrs)
        if is_async:

            async def call_async(ctx: NodeContext, inputs: dict[str, Any]) -> Any:
                return await fn(**inputs)

            return Body(call_async, True, attributes=attrs)
        return Body(lambda ctx, inputs: fn(**inputs), attributes=attrs)

    def _prepare_code(self, node: Node, attrs: dict[str, Any]) -> Body:
        code = node.config["code"]
        statements, last = _compile_cell(code, f"<node {node.name}>")
        defines = tuple(node.config.get("defines") or defined_names(code))

        def run_code(ctx: NodeContext, inputs: dict[str, Any]) -> Any:
            ns = ctx.namespace
            if inputs:
                ns.update(inputs)
            exec(statements, ns)
            return eval(last, ns) if last is not None else None

        return Body(run_code, attributes=attrs, defines=defines)


def _session_body(fn: Callable[..., Any], wants_ctx: bool, is_async: bool, attrs: dict[str, Any]) -> Body:
    """A long-lived sub-agent session (:mod:`.session_state`): its dict for this session goes in."""

    def args(ctx: NodeContext, inputs: dict[str, Any]) -> dict[str, Any]:
        state = ctx.run.runtime.session_states.get(ctx.session_id, ctx.node_id)
        return {"ctx": ctx, PARAM: state, **inputs} if wants_ctx else {PARAM: state, **inputs}

    if is_async:

        async def call_async(ctx: NodeContext, inputs: dict[str, Any]) -> Any:
            return await fn(**args(ctx, inputs))

        return Body(call_async, True, attributes=attrs)
    return Body(lambda ctx, inputs: fn(**args(ctx, inputs)), attributes=attrs)


register_executor(PythonExecutor())
