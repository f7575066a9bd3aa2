"""A graph compiled for execution: prepared bodies, dependency counts, span names. Built once per
graph version and cached on the graph, so invoking the same graph again costs only the run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import AgentcoreError
from ..graph.spec import Graph, Node
from ..observability import conventions as conv
from .executors import OPERATIONS, Body, get_executor, registry_version


@dataclass(slots=True)
class PreparedNode:
    node: Node
    body: Body
    deps: tuple[str, ...]
    dependents: list[str] = field(default_factory=list)
    span_name: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    is_code: bool = False


def _failing_body(error: Exception) -> Body:
    def fail(ctx: Any, inputs: dict[str, Any]) -> Any:
        raise error

    return Body(fail)


def prepare_node(node: Node, prepare: Callable[[Node], Body] | None = None) -> PreparedNode:
    """``prepare`` replaces the kind's executor (a notebook's cells keep their kind, run as cells)."""
    try:
        body = prepare(node) if prepare is not None else get_executor(node.kind).prepare(node)
    except AgentcoreError as exc:
        # Reported when the node runs, so the rest of the graph still runs.
        body = _failing_body(exc)
    operation = (
        body.operation
        if body.operation != conv.EXECUTE_NODE
        else OPERATIONS.get(node.kind, conv.EXECUTE_NODE)
    )
    attributes = {**conv.node_attributes(node.name, node.kind, operation), **body.attributes}
    return PreparedNode(
        node=node,
        body=body,
        deps=tuple(node.dependencies()),
        span_name=body.span_name or conv.span_name(operation, node.name),
        attributes=attributes,
        is_code="code" in node.config and node.kind == "python",
    )


class Plan:
    def __init__(
        self, graph: Graph, *, validate: bool = True, prepare: Callable[[Node], Body] | None = None
    ) -> None:
        if validate:
            graph.validate()
        self.graph = graph
        self.version = registry_version()
        self.nodes: dict[str, PreparedNode] = {n.name: prepare_node(n, prepare) for n in graph}
        for name, prepared in self.nodes.items():
            for dep in prepared.deps:
                if dep in self.nodes:
                    self.nodes[dep].dependents.append(name)
        self.standby = graph.fallback_targets()
        self.sinks = graph.sinks()
        self._spec: dict[str, Any] | None = None
        self.spec_error = ""
        #: A whole run's start (no ``only``, nothing given): its members, each one's count of
        #: unfinished dependencies, the ones ready at once. Computed here, copied per run.
        self.members = [n for n in self.nodes if n not in self.standby]
        member_set = set(self.members)
        self.remaining = {n: sum(1 for d in self.nodes[n].deps if d in member_set) for n in self.members}
        self.roots = [n for n in self.members if self.remaining[n] == 0]

    def spec(self) -> dict[str, Any]:
        """The graph's JSON form for the RunProvisioned event (empty if it holds unsaveable callables)."""
        if self._spec is None:
            try:
                self._spec = self.graph.to_dict()
            except AgentcoreError as exc:
                self._spec = {}
                self.spec_error = str(exc)
        return self._spec

    @classmethod
    def for_graph(cls, graph: Graph) -> Plan:
        plan = graph._plan
        if isinstance(plan, Plan) and plan.version == registry_version():
            return plan
        plan = cls(graph)
        graph._plan = plan
        return plan
