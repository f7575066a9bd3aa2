"""Helpers for export tests: notebooks written with nbformat, the CLI run as a child process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.conftest import REPO
from tests.helpers import procs

NOTEBOOKS = REPO / "notebooks"


def write_notebook(path: Path, cells: list[str | tuple[str, list[str]]], *, language: str = "python") -> Path:
    """A notebook of code cells; a cell given as ``(source, tags)`` carries those tags."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "agentcore",
        "display_name": "AgentCore (Python 3)",
        "language": language,
    }
    for i, cell in enumerate(cells, start=1):
        source, tags = (cell, []) if isinstance(cell, str) else cell
        c = nbformat.v4.new_code_cell(source, id=f"c{i:03d}")
        if tags:
            c.metadata["tags"] = list(tags)
        nb.cells.append(c)
    nbformat.write(nb, path)
    return path


def agentcore(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return procs.cli(env, *args, timeout=timeout, cwd=cwd)


def run_json(*args: str, env: dict[str, str], cwd: Path | None = None) -> dict[str, Any]:
    done = agentcore("run", "local", *args, "--json", env=env, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture
def nb_dir(tmp_path: Path) -> Path:
    d = tmp_path / "nb"
    d.mkdir()
    return d
