"""The graph spec: nodes of known kinds, data dependencies, ordering edges and policies.

A node's ``inputs`` map parameter names to sources: another node's name (its output), ``NODE.KEY``
(one key of a node's dict output), ``$input`` (the whole run input) or ``$input.KEY``. ``after`` adds ordering-only edges. Python nodes either
name a callable (``{"callable": "pkg.module:function"}`` or, in-process, the function itself) or
carry code (``{"code": "..."}``) that runs in the run's shared namespace, like a notebook cell.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import GraphError
from .policy import Policy

NODE_KINDS = ("python", "tool", "reason", "memory", "code", "agent", "mesh")
INPUT_SOURCE = "$input"


@dataclass(slots=True)
class Node:
    name: str
    kind: str = "python"
    inputs: dict[str, str] = field(default_factory=dict)
    after: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)
    metadata: dict[str, Any] = field(default_factory=dict)

    def dependencies(self) -> list[str]:
        """Names of nodes this node waits for (data sources first, then ordering edges)."""
        deps: list[str] = []
        for source in self.inputs.values():
            if not source.startswith(INPUT_SOURCE):
                name = source.split(".", 1)[0]
                if name not in deps:
                    deps.append(name)
        for name in self.after:
            if name not in deps:
                deps.append(name)
        return deps


def _normalize_inputs(inputs: Mapping[str, str] | Iterable[str] | None) -> dict[str, str]:
    if inputs is None:
        return {}
    if isinstance(inputs, Mapping):
        return {str(k): str(v) for k, v in inputs.items()}
    if isinstance(inputs, str):
        return {inputs: inputs}
    return {str(v): str(v) for v in inputs}


class Graph:
    """An ordered set of named nodes. Build it in Python or load it from its JSON form."""

    def __init__(
        self,
        name: str = "graph",
        nodes: Iterable[Node] = (),
        *,
        output: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.output = output
        self.metadata = dict(metadata or {})
        self._nodes: dict[str, Node] = {}
        self._duplicates: list[str] = []
        self._plan: Any = None  # compiled plan cache, owned by the runtime
        for node in nodes:
            self.add_node(node)

    # ------------------------------------------------------------------ building
    def add_node(self, node: Node) -> Node:
        if node.name in self._nodes:
            self._duplicates.append(node.name)
        self._nodes[node.name] = node
        self._plan = None
        return node

    def node(
        self,
        name: str,
        fn: Callable[..., Any] | str | None = None,
        *,
        kind: str = "python",
        inputs: Mapping[str, str] | Iterable[str] | None = None,
        after: Iterable[str] = (),
        code: str | None = None,
        config: dict[str, Any] | None = None,
        policy: Policy | None = None,
        retries: int | None = None,
        timeout: float | None = None,
        fallback: str | None = None,
        on_error: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Node:
        """Add a node. ``fn`` is a callable or ``"module:function"``; ``code`` is cell-like source."""
        cfg = dict(config or {})
        if fn is not None:
            cfg["callable"] = fn
        if code is not None:
            cfg["code"] = code
        pol = policy or Policy()
        if retries is not None:
            pol.retries = retries
        if timeout is not None:
            pol.timeout = timeout
        if fallback is not None:
            pol.fallback = fallback
            if on_error is None and pol.on_error == "fail":
                pol.on_error = "fallback"
        if on_error is not None:
            pol.on_error = on_error
        return self.add_node(
            Node(
                name=name,
                kind=kind,
                inputs=_normalize_inputs(inputs),
                after=list(after),
                config=cfg,
                policy=pol,
                metadata=dict(metadata or {}),
            )
        )

    def remove_node(self, name: str) -> None:
        self._nodes.pop(name, None)
        self._plan = None

    def invalidate(self) -> None:
        """Drop the compiled plan after changing a node in place."""
        self._plan = None

    # ------------------------------------------------------------------ reading
    @property
    def nodes(self) -> dict[str, Node]:
        return self._nodes

    def __getitem__(self, name: str) -> Node:
        try:
            return self._nodes[name]
        except KeyError:
            raise GraphError(f"graph '{self.name}' has no node '{name}'") from None

    def __contains__(self, name: object) -> bool:
        return name in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._nodes.values())

    def edges(self) -> list[tuple[str, str]]:
        """``(upstream, downstream)`` pairs, data and ordering edges alike."""
        return [(dep, n.name) for n in self._nodes.values() for dep in n.dependencies()]

    def fallback_targets(self) -> set[str]:
        """Nodes that run only when another node re-routes to them."""
        return {n.policy.fallback for n in self._nodes.values() if n.policy.fallback}

    def sinks(self) -> list[str]:
        """Nodes nobody depends on (excluding fallback-only nodes): the default run output."""
        used = {dep for _, n in self._nodes.items() for dep in n.dependencies()}
        standby = self.fallback_targets()
        return [name for name in self._nodes if name not in used and name not in standby]

    def downstream(self, start: str) -> list[str]:
        """``start`` and every node that (transitively) depends on it, in insertion order."""
        children: dict[str, list[str]] = {}
        for up, down in self.edges():
            children.setdefault(up, []).append(down)
        seen = {start}
        stack = [start]
        while stack:
            for child in children.get(stack.pop(), []):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return [name for name in self._nodes if name in seen]

    def subgraph(self, names: Iterable[str]) -> Graph:
        """A graph of only ``names``; dependencies on other nodes become ordering-free inputs."""
        keep = set(names)
        sub = Graph(self.name, metadata=self.metadata)
        for node in self._nodes.values():
            if node.name in keep:
                sub.add_node(node)
        sub.output = self.output if self.output in keep else None
        return sub

    # ------------------------------------------------------------------ helpers
    def validate(self) -> Graph:
        """Raise :class:`GraphError` naming every offending node; returns self when valid."""
        from .validate import validate

        validate(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        from .codec import graph_to_dict

        return graph_to_dict(self)

    def __repr__(self) -> str:
        return f"Graph({self.name!r}, {len(self._nodes)} nodes)"


def resolve_callable(ref: str) -> Callable[..., Any]:
    """Import ``"package.module:qualname"``."""
    module_name, sep, qualname = ref.partition(":")
    if not sep or not module_name or not qualname:
        raise GraphError(f"callable reference '{ref}' must look like 'package.module:function'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise GraphError(f"cannot import module '{module_name}' for callable '{ref}': {exc}") from None
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise GraphError(f"module '{module_name}' has no attribute '{qualname}'") from None
    if not callable(obj):
        raise GraphError(f"'{ref}' is not callable")
    return obj  # type: ignore[no-any-return]


def callable_ref(fn: Callable[..., Any]) -> str:
    """The importable ``module:qualname`` of ``fn``, or a :class:`GraphError` if it has none."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise GraphError(
            f"callable {getattr(fn, '__name__', fn)!r} cannot be saved by reference",
            hint="use a module-level function in an importable module, or a code node",
        )
    return f"{module}:{qualname}"
