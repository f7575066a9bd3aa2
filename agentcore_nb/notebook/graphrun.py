"""``%graph run``: re-execute the notebook's cells through the engine's runtime.

Each cell is a node of its recorded kind (``python``, ``tool``, ``memory``, ``code``, ``agent``,
...), so its span, events and identity scopes are those of that kind; its body is the cell itself
(the cell's IPython-transformed code, magics included, in the kernel's namespace), with the
cell's policy, its edges, and ordering edges between cells that define the same name (so the one
run last still wins). Independent cells run concurrently on the runtime's worker threads. The run
is a child of the cell that started it (parent run and node recorded), and its events go to the
project's event log.
"""

from __future__ import annotations

import ast
import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import AgentcoreError, NodeError
from ..graph.policy import Policy
from ..graph.spec import Graph, Node
from ..runtime.executors import Body, PythonExecutor
from ..runtime.hooks import RunHook
from ..values import summarize

if TYPE_CHECKING:
    from ..runtime.context import NodeContext
    from ..runtime.runtime import RunResult, Runtime
    from .cellgraph import CellGraph
    from .session import NotebookSession

_PYTHON = PythonExecutor()
_SUMMARY_CALL = '__import__("agentcore_nb.notebook.graphrun", fromlist=["summary"]).summary(('


def summary(value: Any) -> str | None:
    """What a re-run cell's last expression is recorded as in the log: a one-line preview."""
    return None if value is None else summarize(value)


def with_output_summary(code: str) -> str:
    """Wrap the cell's last expression so the node's output is its preview, never an object the
    event log cannot store (a widget, an open file)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return code
    last = tree.body[-1]
    if len(tree.body) > 1 and (tree.body[-2].end_lineno or 0) >= last.lineno:
        return code  # shares its line with another statement: leave it alone
    lines = code.splitlines(keepends=True)
    head = "".join(lines[: last.lineno - 1])
    expr = "".join(lines[last.lineno - 1 : last.end_lineno])
    wrapped = f"{head}{_SUMMARY_CALL}\n{expr.rstrip()}\n))\n"
    try:
        ast.parse(wrapped)
    except SyntaxError:  # e.g. ``x;`` (display suppressed): keep the cell as it is
        return code
    return wrapped


def ordering_edges(cells: CellGraph) -> dict[str, list[str]]:
    """Extra edges so cells that define the same name run in the order they last ran."""
    extra: dict[str, list[str]] = {}
    for owners in cells.definers().values():
        if len(owners) < 2:
            continue
        ordered = sorted(owners, key=lambda c: c.seq)
        for before, after in itertools.pairwise(ordered):
            if before.name not in after.upstream:
                extra.setdefault(after.name, [])
                if before.name not in extra[after.name]:
                    extra[after.name].append(before.name)
    return extra


def build_run_graph(cells: CellGraph) -> Graph:
    """The cells as a graph of nodes of their kinds, checked (cycles, fallbacks, edges)."""
    graph = Graph(cells.graph.name, metadata={"source": "notebook", "cells": len(cells.cells)})
    extra = ordering_edges(cells)
    for cell in cells.cells.values():
        code = cell.node.config.get("code") if cell.kind == "python" else cell.node.metadata.get("code")
        graph.node(
            cell.name,
            kind="python",
            code=with_output_summary(code or ""),
            config={"defines": list(cell.defines)},
            after=[*cell.upstream, *(n for n in extra.get(cell.name, ()) if n not in cell.upstream)],
            policy=Policy.from_dict(cell.policy.to_dict()),
            metadata={"cell_kind": cell.kind, "cell_id": cell.cell_id},
        )
    graph.validate()  # the structure; each kind's own config is the cell's, run as a cell
    for node in graph:
        node.kind = node.metadata["cell_kind"]
    graph.invalidate()
    return graph


def cell_body(node: Node) -> Body:
    """What a cell node runs under ``%graph run``: the cell's code, whatever its kind."""
    return _PYTHON.prepare(Node(node.name, config=node.config))


@dataclass(slots=True)
class RunWatch:
    """Node states and timings of one notebook run, as the hook sees them."""

    cells: CellGraph
    started: dict[str, float] = field(default_factory=dict)
    finished: dict[str, float] = field(default_factory=dict)

    def node_started(self, name: str) -> None:
        self.started.setdefault(name, time.perf_counter())
        if name in self.cells.cells:
            self.cells.set_state(name, "running")
            self.cells.flush()

    def node_finished(self, name: str, ok: bool) -> None:
        self.finished[name] = time.perf_counter()
        if ok and name in self.cells.cells:
            self.cells.set_state(name, "fresh")
            self.cells.flush()


class NotebookRunHook(RunHook):
    """Feeds node starts and finishes of notebook runs back to their cell graph (live states)."""

    name = "notebook-cells"

    def __init__(self) -> None:
        self.watches: dict[str, RunWatch] = {}

    def node_started(self, ctx: NodeContext) -> None:
        watch = self.watches.get(ctx.run_id)
        if watch is not None and "/" not in ctx.node_id:
            watch.node_started(ctx.node.name)

    def node_finished(self, ctx: NodeContext, ok: bool, output: Any, error: BaseException | None) -> None:
        watch = self.watches.get(ctx.run_id)
        if watch is not None and "/" not in ctx.node_id:
            watch.node_finished(ctx.node.name, ok)


def _hook_for(runtime: Runtime) -> NotebookRunHook:
    for hook in runtime.hooks:
        if isinstance(hook, NotebookRunHook):
            return hook
    hook = NotebookRunHook()
    runtime.add_hook(hook)
    return hook


def select_nodes(cells: CellGraph, start: str | None, only: list[str] | None) -> list[str] | None:
    """The nodes a run covers (None: all), or a one-line error naming what is wrong."""
    known = cells.cells
    listing = ", ".join(known) if len(known) <= 12 else ", ".join(list(known)[:12]) + ", ..."
    standby = cells.standby()
    if start is not None:
        if start not in known:
            raise AgentcoreError(
                f"%graph run --from: no node '{start}' in the notebook graph (nodes: {listing})"
            )
        if start in standby:
            raise AgentcoreError(
                f"%graph run --from: '{start}' only runs as a fallback; start from the node it backs up"
            )
        return [start, *cells.downstream(start)]
    if only:
        unknown = [n for n in only if n not in known]
        if unknown:
            raise AgentcoreError(
                f"%graph run --only: no node {', '.join(repr(u) for u in unknown)} in the notebook graph "
                f"(nodes: {listing})"
            )
        return list(dict.fromkeys(only))
    return None


def stale_members(cells: CellGraph) -> list[str]:
    """The stale cells and every cell downstream of them (fallback-only cells left out)."""
    chosen: set[str] = set()
    for name in cells.stale():
        chosen.add(name)
        chosen.update(cells.downstream(name))
    standby = cells.standby()
    return [n for n in cells.cells if n in chosen and n not in standby]


def run_cells(
    session: NotebookSession,
    namespace: dict[str, Any],
    *,
    start: str | None = None,
    only: list[str] | None = None,
) -> tuple[RunResult, RunWatch]:
    """Run the notebook graph (or part of it) and update node states from the result."""
    cells = session.cells
    if not cells.cells:
        raise AgentcoreError("the notebook graph is empty: run some code cells first")
    members = select_nodes(cells, start, only)
    graph = build_run_graph(cells)
    runtime = session.project.runtime()
    hook = _hook_for(runtime)
    run_id = uuid.uuid4().hex
    watch = RunWatch(cells)
    hook.watches[run_id] = watch
    covered = members if members is not None else [n for n in cells.cells if n not in cells.standby()]
    cells.announce({"op": "run_started", "run_id": run_id, "nodes": covered})
    cells.flush()
    result: RunResult | None = None
    try:
        result = runtime.run(
            graph,
            None,
            session_id=session.session_id,
            run_id=run_id,
            namespace=namespace,
            only=members,
            prepare=cell_body,
        )
    finally:
        hook.watches.pop(run_id, None)
        _settle(cells, covered, result, run_id)
    return result, watch


def _settle(cells: CellGraph, covered: list[str], result: RunResult | None, run_id: str) -> None:
    """Final states: succeeded -> fresh, failed -> failed, not run -> stale; dependents go stale."""
    ran: list[str] = []
    for name in covered:
        cell = cells.cells.get(name)
        if cell is None:
            continue
        if result is None:  # interrupted
            if cell.state == "running":
                cell.error = "interrupted"
                cells.set_state(name, "failed")
            continue
        if name in result.errors:
            cell.error = result.errors[name]
            cells.set_state(name, "failed")
        elif name in result.skipped:
            cells.set_state(name, "stale")
        elif name in result.outputs:
            cell.error = ""
            cells.set_state(name, "fresh")
            ran.append(name)
    covered_set = set(covered)
    for name in ran:
        for dep in cells.downstream(name):
            if dep not in covered_set:
                cells.set_state(dep, "stale")
    status = result.status if result is not None else "cancelled"
    cells.announce({"op": "run_finished", "run_id": run_id, "status": status})
    cells.flush()


def format_run(result: RunResult, watch: RunWatch) -> str:
    names = list(dict.fromkeys([*watch.started, *result.errors, *result.skipped]))
    width = max((len(n) for n in names), default=4)
    lines = [
        f"run {result.run_id}: {result.status}, {len(watch.started)} node(s) in {result.duration_ms / 1000:.2f} s "
        f"(agentcore events {result.run_id})"
    ]
    for name in names:
        t0, t1 = watch.started.get(name), watch.finished.get(name)
        took = f"{t1 - t0:6.2f} s" if t0 is not None and t1 is not None else "       -"
        if name in result.errors:
            lines.append(f"  {name:<{width}}  failed   {took}  {result.errors[name]}")
        elif name in result.skipped:
            lines.append(f"  {name:<{width}}  skipped  {took}")
        else:
            out = result.outputs.get(name)
            lines.append(f"  {name:<{width}}  ok       {took}" + (f"  -> {out}" if out is not None else ""))
    return "\n".join(lines)


def raise_for_failures(result: RunResult) -> None:
    if not result.ok:
        node, message = next(iter(result.errors.items()), ("?", f"run {result.status}"))
        raise NodeError(node, message)
