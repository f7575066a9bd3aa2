"""The per-kernel notebook session: the project, the graph of cells, and per-cell notes.

One session lives in each kernel (AgentCore kernel or ``%load_ext agentcore_nb``). Magics reach
the project's components through ``session.project.services`` and record facts about the cell they
run in with :meth:`note_cell`; the cell tracker turns those into node metadata.
"""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..graph.spec import Graph
    from ..project import Project
    from .cellgraph import CellGraph
    from .widget import ViewRegistry


class NotebookSession:
    def __init__(self, project: Project | None = None, *, name: str = "notebook") -> None:
        self._project = project
        self._project_lock = threading.Lock()
        self.session_id = uuid.uuid4().hex
        #: The id of this session's notebook run (kind ``notebook``), opened with the first cell.
        self.run_id = uuid.uuid4().hex
        self.name = name
        self._cells: CellGraph | None = None
        #: ``%agentcore warnings on``: graph notes (defined twice, stale now, ...) in cell output too.
        self.warnings = False
        #: Set by the extension: runs every cell as a node of the notebook run.
        self.runner: Any = None
        self.cell_notes: dict[str, Any] = {}
        #: Names magics put into the user namespace (``%identity issue --as t``, ``_tool_result``):
        #: defined outside the cells, so reading them is not "a name no cell defines".
        self.outside_names: set[str] = set()
        #: The run ``%trace`` shows without an argument (set by %agent and %graph run).
        self.last_run_id = ""
        self._views: ViewRegistry | None = None
        #: Set by the extension: the IPython hooks (tracker) and the frontend channel (comm).
        self.tracker: Any = None
        self.channel: Any = None

    @property
    def cells(self) -> CellGraph:
        """The cells as a graph; ``cells.graph`` is the engine graph of the notebook (built on
        first use, so a kernel starts without the graph machinery)."""
        if self._cells is None:
            from .cellgraph import CellGraph

            self._cells = CellGraph()
            self._cells.graph.name = self.name
        return self._cells

    @property
    def graph(self) -> Graph:
        """The engine graph of the notebook's cells (kept in sync by the tracker)."""
        return self.cells.graph

    @property
    def project(self) -> Project:
        """Opened on first use, so a kernel that never touches state creates no files."""
        with self._project_lock:  # comm requests on a subshell thread may get here first
            if self._project is None:
                from ..project import Project

                self._project = Project.current()
            return self._project

    @property
    def views(self) -> ViewRegistry:
        if self._views is None:
            from .widget import ViewRegistry

            self._views = ViewRegistry(self.cells, self.run_id)
        return self._views

    def note_cell(self, **metadata: Any) -> None:
        """Record metadata for the cell being executed (read by the cell tracker).

        Keys with a meaning: ``defines`` / ``reads`` (names the magic binds or uses in the user
        namespace, added to the cell's names), ``config`` (the node's config for the magic's
        kind); everything else lands in the node's ``metadata.magic``.
        """
        self.cell_notes.update(metadata)

    def take_cell_notes(self) -> dict[str, Any]:
        notes, self.cell_notes = self.cell_notes, {}
        return notes

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()
            self.runner = None
        if self._views is not None:
            self._views.close()
            self._views = None
        if self._project is not None:
            self._project.close()
            self._project = None
