"""The ``export`` request of the ``agentcore.graph`` comm: the frontend's notebook model (unsaved
edits included) exported as a graph bundle, exactly as ``agentcore export`` does.

The model is checked as nbformat v4, written to a private temporary ``NAME.ipynb`` and exported
from there into ``path`` (relative to the kernel's working directory, the notebook's folder in
JupyterLab). A notebook that cannot ship is refused with its problems (each an
:class:`~agentcore_nb.export.plan.ExportProblem`: kind, cell id and index, one-line message); the
bundle directory appears all at once or not at all.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..export import plan_export
from ..export.bundle import write_bundle
from ..export.plan import ExportError
from .comm_requests import Answer, RequestError, one_line

if TYPE_CHECKING:
    from .session import NotebookSession


def _notebook_name(notebook_path: Any) -> str:
    if notebook_path is None:
        return "notebook.ipynb"
    if not isinstance(notebook_path, str) or not notebook_path.endswith(".ipynb"):
        raise RequestError(
            f'export: "notebook_path" must be null or a path ending in .ipynb, got {notebook_path!r:.80}'
        )
    name = Path(notebook_path).name
    if name in ("", ".ipynb") or "\x00" in name:
        raise RequestError(f"export: {notebook_path!r:.80} names no notebook file")
    return name


def _checked_notebook(notebook: Any) -> str:
    """The model as nbformat v4 text, or one line saying what is wrong with it."""
    import nbformat

    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise RequestError(
            'export: "notebook" must be the notebook as nbformat v4 JSON (an object with "cells")'
        )
    if notebook.get("nbformat") != 4:
        raise RequestError(
            f"export: the notebook must be nbformat 4, got nbformat {notebook.get('nbformat')!r:.20}"
        )
    try:
        text = json.dumps(notebook)
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several types for a broken model
        first = one_line(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        raise RequestError(f"export: the notebook is not valid nbformat v4: {first[:200]}") from None
    return text


def _target(path: Any) -> Path:
    if not isinstance(path, str) or not path.strip() or "\x00" in path:
        raise RequestError('export: "path" must be the bundle folder, e.g. "build/NAME-bundle"')
    out = Path(path).expanduser()
    return (out if out.is_absolute() else Path.cwd() / out).absolute()


def _problems(exc: ExportError, notebook: dict[str, Any], session: NotebookSession) -> list[dict[str, Any]]:
    """Each problem as the export reports it, plus its cell's node name (live graph or ``%%node``)."""
    from ..errors import AgentcoreError
    from .cells import parse_header

    node_of_cell = {c.cell_id: name for name, c in list(session.cells.cells.items()) if c.cell_id}
    cells = notebook.get("cells", [])

    def node(index: int | None, cell_id: str | None) -> str | None:
        if cell_id and cell_id in node_of_cell:
            return node_of_cell[cell_id]
        cell = cells[index - 1] if index is not None and 0 < index <= len(cells) else None
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            return None
        source = cell.get("source", "")
        try:  # the %%node name, even when the body does not parse
            header = parse_header("".join(source) if isinstance(source, list) else str(source))
        except AgentcoreError:
            return None
        return header.name if header is not None else None

    return [{**p.to_dict(), "node": node(p.index, p.cell_id)} for p in exc.problems]


def _refused(exc: ExportError, notebook: dict[str, Any], session: NotebookSession) -> Answer:
    message = exc.message if exc.problems else str(exc)
    return "export_refused", {"message": one_line(message), "problems": _problems(exc, notebook, session)}


def export_request(session: NotebookSession, data: dict[str, Any]) -> Answer:
    """``exported`` with the bundle's folder and nodes, or ``export_refused`` with the problems."""
    notebook = data.get("notebook")
    text = _checked_notebook(notebook)
    assert isinstance(notebook, dict)
    name = _notebook_name(data.get("notebook_path"))
    out = _target(data.get("path"))
    with tempfile.TemporaryDirectory(prefix="agentcore-export-") as tmp:
        source = Path(tmp) / name
        source.write_text(text, "utf-8")
        try:
            plan = plan_export(source)
        except ExportError as exc:
            return _refused(exc, notebook, session)
        try:
            written = write_bundle(plan, out)
        except ExportError as exc:
            if exc.problems:  # a cell that cannot become a function
                return _refused(exc, notebook, session)
            raise RequestError(f"export: {one_line(str(exc))}") from None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise RequestError(
                f"export: cannot write the bundle to {out}: {reason}; choose a folder you can write"
            ) from None
    return "exported", {"path": str(written), "nodes": [c.name for c in plan.cells]}


__all__ = ["export_request"]
