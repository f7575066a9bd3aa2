"""The extension is shipped where JupyterLab finds it: the wheel's shared-data maps the build output
to share/jupyter/labextensions/<name>, and `jupyter labextension list` in the venv shows it
enabled and OK (no browser needed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCE = json.loads((REPO / "labextension" / "package.json").read_text())
OUT = (REPO / "labextension" / SOURCE["jupyterlab"]["outputDir"]).resolve()


def test_the_wheel_maps_the_build_output_to_the_labextensions_folder() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    shared = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    source = OUT.relative_to(REPO).as_posix()
    assert shared[source] == f"share/jupyter/labextensions/{SOURCE['name']}"
    ignored = subprocess.run(["git", "check-ignore", "-q", source], cwd=REPO).returncode == 0
    assert ignored or not (REPO / ".git").exists(), "the prebuilt extension must stay out of git"


@pytest.mark.skipif(
    not (OUT / "package.json").exists(),
    reason="the JupyterLab extension is not built (needs Node: run .ci/setup)",
)
def test_jupyter_labextension_list_shows_it_enabled_and_ok() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    listed = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    text = re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout + listed.stderr)
    line = next((ln for ln in text.splitlines() if SOURCE["name"] in ln), "")
    assert f"{SOURCE['name']} v{SOURCE['version']} enabled OK" in line, text
    built = json.loads((OUT / "package.json").read_text())
    assert built["name"] == SOURCE["name"] and built["jupyterlab"]["_build"]["load"].startswith(
        "static/remoteEntry."
    )
