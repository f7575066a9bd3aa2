"""Shared fixtures: every test gets its own state directory, so no test sees another's files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def agentcore_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "agentcore-home"
    home.mkdir()
    monkeypatch.setenv("AGENTCORE_HOME", str(home))
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    return home


@pytest.fixture
def subprocess_env(agentcore_home: Path) -> dict[str, str]:
    """Environment for child processes: the test's state dir, no ANSI colours."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env["AGENTCORE_HOME"] = str(agentcore_home)
    env["NO_COLOR"] = "1"
    return env
