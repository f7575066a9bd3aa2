"""The ``%graph`` view: an ipywidgets box that shows nodes by kind and state, and edges, live.

Each node is a button coloured by state (fresh: success, stale: warning, running: info, failed:
danger), grouped in one row per kind; clicking a node shows its names, policy and neighbours. The
view subscribes to the cell graph, so it updates as cells run. Only the newest few views stay
live, so an old notebook full of ``%graph`` outputs costs nothing per cell.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cellgraph import CellGraph

STATE_STYLES = {"fresh": "success", "stale": "warning", "running": "info", "failed": "danger"}
KIND_ORDER = ("python", "tool", "reason", "memory", "code", "agent")
LIVE_VIEWS = 4


class GraphView:
    def __init__(self, cells: CellGraph, run_id: str = "") -> None:
        import ipywidgets as w

        self._w = w
        self.cells = cells
        #: The session's notebook run (``agentcore events RUN_ID``).
        self.run_id = run_id
        self.buttons: dict[str, Any] = {}
        self.selected: str | None = None
        # Widgets are created with their content, so a frontend gets it in the comm_open state.
        self._sync_buttons()
        self._kinds = self._kind_groups()
        self.header = w.HTML(value=self._header_html())
        self.rows = w.VBox(self._rows())
        self.edges = w.HTML(value=self._edges_html())
        self.details = w.HTML()
        self.notes = w.HTML()
        self.box = w.VBox(
            [self.header, self.rows, self.edges, self.notes, self.details],
            layout=w.Layout(border="1px solid #ddd", padding="6px"),
            _dom_classes=("agentcore-graph",),
        )

    # ------------------------------------------------------------------ rendering
    def _header_html(self) -> str:
        cells = self.cells
        counts: dict[str, int] = {}
        for c in cells.cells.values():
            counts[c.state] = counts.get(c.state, 0) + 1
        states = ", ".join(f"{n} {s}" for s, n in counts.items())
        return (
            f"<b>{html.escape(cells.graph.name)}</b>: {len(cells.cells)} nodes, "
            f"{len(cells.edges())} edges"
            + (f" ({states})" if states else "")
            + (f" &middot; run <code>{html.escape(self.run_id)}</code>" if self.run_id else "")
        )

    def _edges_html(self) -> str:
        edges = self.cells.edges()
        if not edges:
            return "edges: none"
        return "edges: " + ", ".join(f"{html.escape(a)} &rarr; {html.escape(b)}" for a, b in edges)

    def _kind_groups(self) -> dict[str, tuple[str, ...]]:
        kinds: dict[str, tuple[str, ...]] = {}
        for c in self.cells.cells.values():
            kinds[c.kind] = (*kinds.get(c.kind, ()), c.name)
        return kinds

    def _rows(self) -> list[Any]:
        w = self._w
        ordered = sorted(self._kinds, key=lambda k: (KIND_ORDER.index(k) if k in KIND_ORDER else 99, k))
        return [
            w.HBox(
                [
                    w.Label(value=kind, layout=w.Layout(width="70px")),
                    *(self.buttons[n] for n in self._kinds[kind]),
                ]
            )
            for kind in ordered
        ]

    def _sync_buttons(self) -> None:
        w = self._w
        cells = self.cells
        for name in [n for n in self.buttons if n not in cells.cells]:
            self.buttons.pop(name).close()
        for c in cells.cells.values():
            tooltip = f"{c.kind} · {c.state}"
            style = STATE_STYLES.get(c.state, "")
            button = self.buttons.get(c.name)
            if button is None:
                button = w.Button(
                    description=c.name, tooltip=tooltip, button_style=style, layout=w.Layout(width="auto")
                )
                button.on_click(lambda _b, name=c.name: self.select(name))
                self.buttons[c.name] = button
                continue
            if button.tooltip != tooltip:
                button.tooltip = tooltip
            if button.button_style != style:
                button.button_style = style

    def refresh(self, changes: list[dict[str, Any]] | None = None) -> None:
        """Bring the view up to date (a cell-graph listener; only what changed is sent)."""
        notes = [c for c in changes or () if c.get("op") == "notes"]
        if notes:  # what the graph noticed about the last cell (kept out of the cell's output)
            last = notes[-1]
            self.notes.value = f"<i>{html.escape(last['name'])}</i>: " + "; ".join(
                html.escape(n) for n in last["notes"]
            )
        self._sync_buttons()
        header = self._header_html()
        if self.header.value != header:
            self.header.value = header
        kinds = self._kind_groups()
        if kinds != self._kinds:
            self._kinds = kinds
            old = self.rows.children
            self.rows.children = self._rows()
            for row in old:  # the rows and labels, not the node buttons they held
                row.children[0].close()
                row.close()
        edges = self._edges_html()
        if self.edges.value != edges:
            self.edges.value = edges
        if self.selected is not None:
            self.select(self.selected)

    def select(self, name: str) -> None:
        """Show one node's details (what a click on its button does)."""
        cell = self.cells.cells.get(name)
        if cell is None:
            self.selected = None
            self.details.value = ""
            return
        self.selected = name
        downstream = [b for a, b in self.cells.edges() if a == name]
        rows = [
            ("kind", cell.kind),
            ("state", cell.state),
            ("reads", ", ".join(cell.reads) or "-"),
            ("defines", ", ".join(cell.defines) or "-"),
            ("after", ", ".join(cell.upstream) or "-"),
            ("before", ", ".join(downstream) or "-"),
            ("policy", ", ".join(f"{k}={v}" for k, v in cell.policy.to_dict().items()) or "default"),
        ]
        if cell.error:
            rows.append(("error", cell.error))
        for warning in cell.warnings:
            rows.append(("note", warning))
        self.details.value = f"<b>{html.escape(name)}</b><br>" + "<br>".join(
            f"{k}: {html.escape(str(v))}" for k, v in rows
        )

    # ------------------------------------------------------------------ display
    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.box._repr_mimebundle_(**kwargs))
        bundle["text/plain"] = self.cells.summary() + (f"\nrun: {self.run_id}" if self.run_id else "")
        return bundle

    def close(self) -> None:
        self.cells.unsubscribe(self.refresh)
        self.box.close()


class ViewRegistry:
    """The live views of one session (newest last)."""

    def __init__(self, cells: CellGraph, run_id: str = "") -> None:
        self.cells = cells
        self.run_id = run_id
        self.views: list[GraphView] = []

    def new_view(self) -> GraphView:
        view = GraphView(self.cells, self.run_id)
        self.cells.subscribe(view.refresh)
        self.views.append(view)
        while len(self.views) > LIVE_VIEWS:
            old = self.views.pop(0)
            self.cells.unsubscribe(old.refresh)
        return view

    def close(self) -> None:
        for view in self.views:
            try:
                view.close()
            except Exception:
                pass
        self.views.clear()
