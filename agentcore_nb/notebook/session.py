"""The per-kernel notebook session: the project, the session graph, and per-cell notes.

One session lives in each kernel (AgentCore kernel or ``%load_ext agentcore_nb``). Magics reach
the project's components through ``session.project.services`` and record facts about the cell they
run in with :meth:`note_cell`; the cell tracker turns those into node metadata.
"""

from __future__ import annotations

import uuid
from typing import Any

from ..graph.spec import Graph
from ..project import Project


class NotebookSession:
    def __init__(self, project: Project | None = None, *, name: str = "notebook") -> None:
        self._project = project
        self.session_id = uuid.uuid4().hex
        self.graph = Graph(name)
        self.cell_notes: dict[str, Any] = {}

    @property
    def project(self) -> Project:
        """Opened on first use, so a kernel that never touches state creates no files."""
        if self._project is None:
            self._project = Project()
        return self._project

    def note_cell(self, **metadata: Any) -> None:
        """Record metadata for the cell being executed (read by the cell tracker)."""
        self.cell_notes.update(metadata)

    def take_cell_notes(self) -> dict[str, Any]:
        notes, self.cell_notes = self.cell_notes, {}
        return notes

    def close(self) -> None:
        if self._project is not None:
            self._project.close()
            self._project = None
