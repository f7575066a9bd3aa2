"""Export a notebook as a graph bundle, and run a bundle locally (no Jupyter kernel).

This room sits beside ``notebook/`` because it reads cells: it parses them with the same pure
function the notebook's magics use (:func:`agentcore_nb.notebook.nodes.cell_node`), reads files
with nbformat, and never imports the kernel machinery. See ``docs/export.md``.
"""

from __future__ import annotations

from pathlib import Path

from .bundle import Bundle, load_bundle, write_bundle
from .plan import ExportError, ExportProblem, Plan, plan_export
from .runner import result_value, run_bundle, run_local


def export_notebook(notebook: str | Path, out: str | Path) -> Path:
    """Check ``notebook`` and write its bundle to ``out``; nothing is written when a check fails."""
    plan = plan_export(Path(notebook))
    return write_bundle(plan, Path(out))


__all__ = [
    "Bundle",
    "ExportError",
    "ExportProblem",
    "Plan",
    "export_notebook",
    "load_bundle",
    "plan_export",
    "result_value",
    "run_bundle",
    "run_local",
]
