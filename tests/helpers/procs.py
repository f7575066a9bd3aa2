"""Child processes for tests: a Python script or the CLI in the test's environment, and a script run
as another user (nobody) from a root test run."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Debian's Python (same ABI as the venv's): the pyenv one under /root is not readable by nobody.
SYSTEM_PYTHON = "/usr/bin/python3.11"


def python_child(
    script: str, env: dict[str, str] | None, *args: str, stdin: bool = False
) -> subprocess.Popen[str]:
    """``python -c script args`` with its stdout (and stdin when asked) as text pipes."""
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env=env,
        stdin=subprocess.PIPE if stdin else None,
        stdout=subprocess.PIPE,
        text=True,
    )


def run_python(
    script: str, env: dict[str, str] | None, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -c script args`` to its end, its output captured."""
    return subprocess.run(
        [sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def cli(
    env: dict[str, str], *args: str, timeout: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m agentcore_nb.cli args``, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "agentcore_nb.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def as_nobody(script: str, *args: str) -> list[str]:
    """The command that runs ``script`` as nobody (65534), from an empty environment, with this
    checkout and the venv's packages importable (``setpriv`` needs root)."""
    site = sysconfig.get_paths()["purelib"]
    env = ["env", "-i", f"PYTHONPATH={REPO}:{site}", "HOME=/tmp", "PATH=/usr/bin:/bin"]
    return [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        *env,
        SYSTEM_PYTHON,
        "-c",
        script,
        *args,
    ]
