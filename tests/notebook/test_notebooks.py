"""Every notebook in ``notebooks/`` runs top to bottom on the installed AgentCore kernel, with no error
output in any cell (nbclient, the same way ``jupyter nbconvert --execute`` runs them)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from .conftest import NOTEBOOKS

ALL = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_the_notebooks_folder_has_notebooks():
    assert any(p.name == "01-cells-as-graph.ipynb" for p in ALL)


@pytest.mark.parametrize("path", ALL, ids=[p.name for p in ALL])
def test_notebook_runs_without_errors(path: Path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="agentcore",
        timeout=120,
        allow_errors=True,  # run every cell, then report every error at once
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    errors = [
        f"cell {i} ({cell.source.splitlines()[0] if cell.source else ''}): {out.ename}: {out.evalue}"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.output_type == "error"
    ]
    assert not errors, f"{path.name} has error output:\n" + "\n".join(errors)
