"""The ``%graph`` widget: the notebook's graph laid out as a DAG (layers top to bottom, arrows),
nodes coloured by state and badged by kind; clicking a node shows its cell's first lines, its
policy and its last run. It listens to the cell graph, so it updates as cells run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets

from .layout import NODE_H, NODE_W, layout

_HERE = Path(__file__).parent
#: Views that stay subscribed to the cell graph (older ones keep their last picture).
LIVE_VIEWS = 4
FIRST_LINES = 6


def graph_state(cells: Any, last_run_id: str = "") -> dict[str, Any]:
    """Nodes with positions, edges as polylines, and per-node details, from a ``CellGraph``."""
    names = list(cells.cells)
    edges = [tuple(e) for e in cells.edges()]
    lay = layout(names, edges)  # type: ignore[arg-type]
    nodes = []
    for name in names:
        c = cells.cells[name]
        lines = c.source.splitlines()
        nodes.append(
            {
                "name": name,
                "kind": c.kind,
                "state": c.state,
                "x": lay.x[name],
                "y": lay.y[name],
                "first_lines": "\n".join(lines[:FIRST_LINES]) + ("\n..." if len(lines) > FIRST_LINES else ""),
                "policy": c.node.policy.to_dict(),
                "last_run": {
                    "execution_count": c.execution_count,
                    "state": c.state,
                    "error": c.error,
                    "run_id": last_run_id,
                },
                "warnings": list(c.warnings),
            }
        )
    return {
        "name": cells.graph.name,
        "nodes": nodes,
        "edges": [{"source": a, "target": b, "points": pts} for a, b, pts in lay.edges],
        "width": lay.width,
        "height": lay.height,
        "node_w": NODE_W,
        "node_h": NODE_H,
    }


class GraphWidget(anywidget.AnyWidget):  # type: ignore[misc]
    _esm = _HERE / "graph_front.js"
    _css = _HERE / "graph.css"

    graph = traitlets.Dict({}).tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)

    def __init__(self, cells: Any, session: Any = None, **kwargs: Any) -> None:
        self._cells = cells
        self._session = session
        super().__init__(graph=graph_state(cells, self._last_run()), **kwargs)

    def _last_run(self) -> str:
        return str(getattr(self._session, "last_run_id", "") or "")

    def refresh(self, changes: list[dict[str, Any]] | None = None) -> None:
        self.graph = graph_state(self._cells, self._last_run())

    def text(self) -> str:
        return str(self._cells.summary())

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if isinstance(data, dict):
            data["text/plain"] = self.text()
        return bundle

    def close(self) -> None:
        self._cells.unsubscribe(self.refresh)
        super().close()


_live: dict[int, list[GraphWidget]] = {}


def graph_view(session: Any) -> GraphWidget:
    """A new live view of the session's graph; the oldest live one beyond LIVE_VIEWS stops listening."""
    cells = session.cells
    view = GraphWidget(cells, session)
    cells.subscribe(view.refresh)
    views = _live.setdefault(id(cells), [])
    views.append(view)
    while len(views) > LIVE_VIEWS:
        cells.unsubscribe(views.pop(0).refresh)
    return view
