"""The notebook as a graph: executed cells are nodes, names link them, re-runs make dependents stale.

Pure Python (no Jupyter): the tracker calls :meth:`CellGraph.record` after each cell, ``%graph``
reads it, the comm channel and widgets subscribe to its changes. The engine :class:`Graph` it keeps
(``cells.graph``) always mirrors the cells: kind, ``after`` edges, ``config.code``, policy, and
metadata (cell id, source, names, state).

Edges: a cell that reads a name depends on the cell that defined that name most recently (by
execution), not counting itself; a cell that only runs as another's fallback stands in for it and
is not a definer. A name defined in two cells, a read no cell defines and a cycle are warnings
here and errors at export (:meth:`problems`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import AgentcoreError, GraphError
from ..graph.policy import Policy
from ..graph.spec import Graph, Node
from ..graph.validate import find_cycle
from .cells import CellExecution, NodeHeader

STATES = ("fresh", "stale", "running", "failed")

Listener = Callable[[list[dict[str, Any]]], None]


class NameClashError(AgentcoreError):
    """``%%node NAME`` names a node another cell already owns."""


@dataclass(slots=True, eq=False)
class Cell:
    name: str
    node: Node
    kind: str = "python"
    source: str = ""
    cell_id: str | None = None
    reads: tuple[str, ...] = ()
    builtins_read: tuple[str, ...] = ()
    defines: tuple[str, ...] = ()
    deletes: tuple[str, ...] = ()
    state: str = "fresh"
    seq: int = 0
    execution_count: int | None = None
    warnings: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def policy(self) -> Policy:
        return self.node.policy

    @property
    def upstream(self) -> list[str]:
        return self.node.after

    def to_json(self) -> dict[str, Any]:
        """The node as the comm channel and ``%graph json`` consumers see it."""
        return {
            "name": self.name,
            "kind": self.kind,
            "state": self.state,
            "cell_id": self.cell_id,
            "reads": list(self.reads),
            "defines": list(self.defines),
            "deletes": list(self.deletes),
            "upstream": list(self.node.after),
            "policy": self.node.policy.to_dict(),
            "execution_count": self.execution_count,
            "warnings": list(self.warnings),
            "error": self.error,
        }


@dataclass(slots=True)
class Report:
    """What one recorded execution changed, for the cell's output."""

    name: str
    added: bool
    renamed_from: str | None = None
    stale: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class CellGraph:
    def __init__(self, graph: Graph | None = None, *, outside: Callable[[str], bool] | None = None) -> None:
        self.graph = graph if graph is not None else Graph("notebook")
        #: Names that come from outside the cells (IPython's own, ``_1``...): never "undefined".
        self.outside = outside or (lambda name: False)
        self.cells: dict[str, Cell] = {}
        self._by_cell_id: dict[str, str] = {}
        self._by_source: dict[str, str] = {}
        self._seq = itertools.count(1)
        self._auto = itertools.count(1)
        self._edges: list[tuple[str, str]] = []
        self._listeners: list[Listener] = []
        self._changed: dict[str, str] = {}  # name -> "added" | "updated" | "removed"
        self._states: dict[str, str] = {}
        self._edges_changed = False
        self._extra: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ identity
    def identify(self, cell_id: str | None, source: str, header: NodeHeader | None) -> str | None:
        """The node an execution of this cell updates (None: a new node). Raises on a name clash."""
        if header is not None:
            owner = self.cells.get(header.name)
            if owner is not None:
                if owner.cell_id and cell_id and owner.cell_id != cell_id:
                    raise NameClashError(
                        f"%%node {header.name}: another cell already has this name",
                        hint="pick a different name, or delete the other cell",
                    )
                return header.name
            return None
        if cell_id:
            return self._by_cell_id.get(cell_id)
        return self._by_source.get(source)

    def previous_name(self, cell_id: str | None, source: str) -> str | None:
        """The node this cell had before (by cell id, else by source)."""
        if cell_id:
            return self._by_cell_id.get(cell_id)
        return self._by_source.get(source)

    def name_for(self, cell_id: str | None, source: str, header: NodeHeader | None) -> str:
        existing = self.identify(cell_id, source, header)
        if existing is not None:
            return existing
        if header is not None:
            return header.name
        previous = self.previous_name(cell_id, source)
        if previous is not None:
            return previous
        while True:
            name = f"cell_{next(self._auto)}"
            if name not in self.cells:
                return name

    # ------------------------------------------------------------------ recording
    def record(self, ex: CellExecution) -> Report:
        """Add or update the node for one execution; recompute edges; mark dependents stale."""
        info = ex.info
        header = info.header
        renamed_from = None
        cell = self.cells.get(ex.name)
        added = cell is None
        if cell is None:
            previous = self.previous_name(ex.cell_id, ex.source)
            if previous is not None and previous in self.cells and header is not None:
                renamed_from = previous
                cell = self._rename(previous, ex.name)
                added = False
        if cell is None:
            cell = Cell(ex.name, Node(ex.name))
            self.cells[ex.name] = cell
            self.graph.add_node(cell.node)
            self._changed[ex.name] = "added"
        elif self._changed.get(ex.name) != "added":
            self._changed[ex.name] = "updated"
        old_source = cell.source
        if not ex.cell_id and old_source and self._by_source.get(old_source) == ex.name:
            del self._by_source[old_source]
        if ex.cell_id:
            if cell.cell_id and cell.cell_id != ex.cell_id:
                self._by_cell_id.pop(cell.cell_id, None)
            cell.cell_id = ex.cell_id
            self._by_cell_id[ex.cell_id] = ex.name
        else:
            self._by_source[ex.source] = ex.name

        notes = ex.notes
        names = info.names
        defines = names.defines + tuple(n for n in notes.get("defines", ()) if n not in names.defines)
        reads = names.reads + tuple(n for n in notes.get("reads", ()) if n not in names.reads)
        cell.kind = info.kind
        cell.source = ex.source
        cell.reads, cell.defines = reads, defines
        cell.deletes, cell.builtins_read = names.deletes, names.builtins_read
        cell.seq = next(self._seq)
        cell.execution_count = ex.execution_count
        cell.error = ex.error

        node = cell.node
        node.kind = info.kind
        if info.kind == "python":
            node.config = {"code": info.code}
        else:
            node.config = dict(notes.get("config") or {})
        node.policy = header.policy() if header is not None else Policy()
        meta: dict[str, Any] = {
            "cell_id": ex.cell_id,
            "source": ex.source,
            "reads": list(reads),
            "defines": list(defines),
        }
        if names.deletes:
            meta["deletes"] = list(names.deletes)
        if info.kind != "python":
            meta["code"] = info.code
        extra = {k: v for k, v in notes.items() if k not in ("defines", "reads", "config")}
        if extra:
            meta["magic"] = extra
        node.metadata = meta
        self.graph.invalidate()

        self._rebuild_edges()
        stale = self._mark_downstream_stale(cell.name)
        self._set_state(cell, "fresh" if ex.ok else "failed")
        cell.warnings = self._warnings_for(cell, ex.ok)
        return Report(cell.name, added, renamed_from, stale, list(cell.warnings))

    def _rename(self, old: str, new: str) -> Cell:
        cell = self.cells.pop(old)
        order = list(self.graph.nodes.values())
        for n in order:
            self.graph.remove_node(n.name)
        cell.name = new
        cell.node.name = new
        for n in order:
            self.graph.add_node(n)
        self.cells = {c.name: c for c in (self.cells.get(n.name, cell) for n in order)}
        for key, value in list(self._by_cell_id.items()):
            if value == old:
                self._by_cell_id[key] = new
        for key, value in list(self._by_source.items()):
            if value == old:
                self._by_source[key] = new
        self._changed[old] = "removed"
        self._states.pop(old, None)
        self._changed[new] = "added"
        return cell

    def remove(self, names: Iterable[str]) -> list[str]:
        """Forget nodes (deleted cells); their dependents become stale."""
        names = [n for n in names if n in self.cells]
        if not names:
            return []
        stale: set[str] = set()
        for name in names:
            stale.update(self.downstream(name))
        for name in names:
            cell = self.cells.pop(name)
            self.graph.remove_node(name)
            if cell.cell_id:
                self._by_cell_id.pop(cell.cell_id, None)
            if self._by_source.get(cell.source) == name:
                del self._by_source[cell.source]
            self._changed[name] = "removed"
            self._states.pop(name, None)
        self._rebuild_edges()
        for name in stale - set(names):
            if name in self.cells:
                self._set_state(self.cells[name], "stale")
        return names

    def remove_cell_ids(self, cell_ids: Iterable[str]) -> list[str]:
        return self.remove([self._by_cell_id[c] for c in cell_ids if c in self._by_cell_id])

    def reset(self) -> None:
        self.remove(list(self.cells))
        self._by_source.clear()
        self._by_cell_id.clear()
        self._auto = itertools.count(1)

    # ------------------------------------------------------------------ states
    def set_state(self, name: str, state: str) -> None:
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        cell = self.cells.get(name)
        if cell is not None:
            self._set_state(cell, state)

    def _set_state(self, cell: Cell, state: str) -> None:
        if cell.state != state:
            cell.state = state
            self._states[cell.name] = state
        cell.node.metadata["state"] = state

    def stale(self) -> list[str]:
        return [c.name for c in self.cells.values() if c.state == "stale"]

    def states(self) -> dict[str, str]:
        return {c.name: c.state for c in self.cells.values()}

    # ------------------------------------------------------------------ edges
    def standby(self) -> set[str]:
        """Cells that only run as another cell's fallback."""
        return {c.node.policy.fallback for c in self.cells.values() if c.node.policy.fallback} & set(
            self.cells
        )

    def definers(self) -> dict[str, list[Cell]]:
        """Each name -> the cells that define (or delete) it, excluding fallback-only cells."""
        standby = self.standby()
        out: dict[str, list[Cell]] = {}
        for cell in self.cells.values():
            if cell.name in standby:
                continue
            for name in cell.defines:
                out.setdefault(name, []).append(cell)
            for name in cell.deletes:
                if name not in cell.defines:
                    out.setdefault(name, []).append(cell)
        return out

    def _rebuild_edges(self) -> None:
        definers = self.definers()
        order = {name: i for i, name in enumerate(self.cells)}
        edges: list[tuple[str, str]] = []
        for cell in self.cells.values():
            ups: set[str] = set()
            for name in itertools.chain(cell.reads, cell.builtins_read):
                cands = definers.get(name)
                if not cands:
                    continue
                best = None
                for cand in cands:
                    if cand is not cell and (best is None or cand.seq > best.seq):
                        best = cand
                if best is not None:
                    ups.add(best.name)
            after = sorted(ups, key=order.__getitem__)
            if after != cell.node.after:
                cell.node.after = after
                if self._changed.get(cell.name) is None:
                    self._changed[cell.name] = "updated"
            edges.extend((up, cell.name) for up in after)
        if edges != self._edges:
            self._edges = edges
            self._edges_changed = True
            self.graph.invalidate()

    def edges(self) -> list[tuple[str, str]]:
        return list(self._edges)

    def downstream(self, name: str) -> list[str]:
        """Nodes that (transitively) depend on ``name``, in graph order, without ``name``."""
        return [n for n in self.graph.downstream(name) if n != name] if name in self.cells else []

    def _mark_downstream_stale(self, name: str) -> list[str]:
        marked = []
        for dep in self.downstream(name):
            cell = self.cells[dep]
            if cell.state != "stale" and cell.state != "running":
                self._set_state(cell, "stale")
                marked.append(dep)
        return marked

    # ------------------------------------------------------------------ problems
    def _warnings_for(self, cell: Cell, ok: bool) -> list[str]:
        out: list[str] = []
        definers = self.definers()
        pair = {cell.name, cell.node.policy.fallback}
        shared: dict[tuple[str, ...], list[str]] = {}
        for name in cell.defines:
            owners = [c.name for c in definers.get(name, ()) if c.name not in pair or c is cell]
            if len(owners) > 1 and cell.name in owners:
                shared.setdefault(tuple(owners), []).append(name)
        for group, names in shared.items():
            last = max((self.cells[o] for o in group), key=lambda c: c.seq).name
            out.append(
                f"{_names(names)} {'is' if len(names) == 1 else 'are'} defined in {len(group)} cells "
                f"({', '.join(group)}); readers use {last}, run last"
            )
        if ok:
            missing = [n for n in cell.reads if n not in definers and not self.outside(n)]
            if missing:
                out.append(f"{cell.name} reads {_names(missing)}, which no cell defines")
        cycle = self.cycle()
        if cycle and cell.name in cycle:
            out.append("cycle: " + " -> ".join(cycle))
        return out

    def cycle(self) -> list[str] | None:
        return find_cycle(self.graph) if self._edges else None

    def problems(self) -> list[str]:
        """Everything that stops the notebook from exporting as a graph."""
        out: list[str] = []
        definers = self.definers()
        fallback_of = {c.name: c.node.policy.fallback for c in self.cells.values()}
        for name, owners in definers.items():
            names = [c.name for c in owners]
            if len(names) > 1:
                out.append(f"'{name}' is defined in {len(names)} cells: {', '.join(names)}")
        for cell in self.cells.values():
            missing = [n for n in cell.reads if n not in definers and not self.outside(n)]
            if missing:
                out.append(f"{cell.name} reads {_names(missing)}, which no cell defines")
            fb = fallback_of[cell.name]
            if fb and fb not in self.cells:
                out.append(f"{cell.name} falls back to '{fb}', which is not a cell")
        cycle = self.cycle()
        if cycle:
            out.append("cycle: " + " -> ".join(cycle))
        return out

    def check(self) -> None:
        """Raise :class:`GraphError` listing every problem (for export)."""
        found = self.problems()
        if found:
            raise GraphError(f"the notebook graph '{self.graph.name}' cannot be exported", found)

    # ------------------------------------------------------------------ change feed
    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def listened(self) -> bool:
        """Whether a listener (widget, comm) receives the changes."""
        return bool(self._listeners)

    def announce(self, change: dict[str, Any]) -> None:
        """Queue an extra change (run started/finished) for the next :meth:`flush`."""
        if self._listeners:
            self._extra.append(change)

    def flush(self) -> list[dict[str, Any]]:
        """Send what changed since the last flush to the listeners (one list per flush)."""
        if not (self._changed or self._states or self._edges_changed or self._extra):
            return []
        if not self._listeners:
            self._changed.clear()
            self._states.clear()
            self._edges_changed = False
            return []
        changes: list[dict[str, Any]] = []
        for name, op in self._changed.items():
            if op == "removed":
                changes.append({"op": "node_removed", "name": name})
            elif name in self.cells:
                changes.append({"op": f"node_{op}", "node": self.cells[name].to_json()})
        for name, state in self._states.items():
            if name in self.cells and self._changed.get(name) is None:
                changes.append({"op": "state", "name": name, "state": state})
        if self._edges_changed:
            changes.append({"op": "edges", "edges": [list(e) for e in self._edges]})
        changes.extend(self._extra)
        self._changed.clear()
        self._states.clear()
        self._edges_changed = False
        self._extra = []
        for listener in list(self._listeners):
            try:
                listener(changes)
            except Exception:
                self.unsubscribe(listener)
        return changes

    def snapshot(self) -> dict[str, Any]:
        """The whole graph as JSON. May run on a comm subshell's thread while a cell changes the
        graph: a copy that met a change in flight is taken again."""
        for attempt in range(5):
            try:
                return {
                    "name": self.graph.name,
                    "nodes": [c.to_json() for c in list(self.cells.values())],
                    "edges": [list(e) for e in list(self._edges)],
                }
            except RuntimeError:  # "changed size during iteration": the main thread was mid-update
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ text
    def summary(self) -> str:
        """A plain-text view: one line per node, then the edges."""
        counts: dict[str, int] = {}
        for c in self.cells.values():
            counts[c.state] = counts.get(c.state, 0) + 1
        head = f"graph '{self.graph.name}': {_plural(len(self.cells), 'node')}, {_plural(len(self._edges), 'edge')}"
        if counts:
            head += " (" + ", ".join(f"{counts[s]} {s}" for s in STATES if s in counts) + ")"
        if not self.cells:
            return head + "\n  no cells yet: run a code cell and it becomes a node"
        width = max(len(n) for n in self.cells)
        kinds = max(len(c.kind) for c in self.cells.values())
        lines = [head]
        for c in self.cells.values():
            parts = []
            if c.upstream:
                parts.append("after " + ", ".join(c.upstream))
            if c.reads:
                parts.append("reads " + ", ".join(c.reads))
            if c.defines:
                parts.append("defines " + ", ".join(c.defines))
            pol = c.node.policy.to_dict()
            if pol:
                parts.append(" ".join(f"{k}={v}" for k, v in pol.items()))
            lines.append(f"  {c.name:<{width}}  {c.kind:<{kinds}}  {c.state:<7}  {'; '.join(parts)}".rstrip())
        if self._edges:
            lines.append("edges: " + ", ".join(f"{a} -> {b}" for a, b in self._edges))
        return "\n".join(lines)


def _names(names: Iterable[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
