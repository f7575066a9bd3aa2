"""What only the rootless sandbox has: its mode, and user namespaces that are not available.

These run as an ordinary user (``test_unprivileged.py`` runs them so from a root suite)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from agentcore_nb.interpreter import Interpreter

pytestmark = pytest.mark.skipif(
    os.geteuid() == 0, reason="rootless only: test_unprivileged.py runs this file as an ordinary user"
)


def test_an_ordinary_user_gets_the_rootless_sandbox(tmp_path):
    with Interpreter(tmp_path / "i") as it:
        r = it.execute_code("import os\nprint(os.getuid())")
        assert r.ok and r.sandbox == "bubblewrap-rootless" and r.warning == ""
        assert r.stdout == f"{os.getuid()}\n"  # one uid for all of the user's sessions


def test_without_user_namespaces_one_line_says_the_two_ways_out(tmp_path):
    program = tmp_path / "hello.py"
    program.write_text("print('hello')\n")
    cli = [sys.executable, "-m", "agentcore_nb.cli", "code", "run", str(program)]
    env = {**os.environ, "AGENTCORE_HOME": str(tmp_path / "home")}
    # the same command in a user namespace that may create no other (as with the sysctl at 0)
    no_userns = ["bwrap", "--unshare-user", "--disable-userns", "--bind", "/", "/", "--dev", "/dev",
                 "--proc", "/proc", "--"]  # fmt: skip
    done = subprocess.run(no_userns + cli, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "user namespaces are not available" in lines[0]
    assert "max_user_namespaces" in lines[0] and "unsafe_local=True" in lines[0]
    assert "hello" not in done.stdout
    # where they are available, the next call works
    ok = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=120)
    assert ok.returncode == 0 and "hello" in ok.stdout, ok.stderr
