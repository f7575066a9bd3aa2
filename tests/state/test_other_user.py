"""A process of another user cannot reach a project's state (run as ``nobody`` via ``setpriv``).

As FIELD-NOTES describes: the venv's interpreter may live under a 0700 home, so the other user runs
Debian's ``/usr/bin/python3.11`` with ``PYTHONPATH`` set to the checkout and the venv's packages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentcore_nb.errors import EventLogError
from agentcore_nb.project import Project
from agentcore_nb.state import election

from ..helpers.procs import SYSTEM_PYTHON, as_nobody

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv") or not os.path.exists(SYSTEM_PYTHON),
    reason="needs root (to drop to another uid), setpriv and /usr/bin/python3.11",
)

ATTACK = textwrap.dedent(
    """
    import json, os, socket, sys
    from pathlib import Path
    from agentcore_nb.state import election, wire
    db = Path(sys.argv[1])
    out = {"uid": os.getuid()}
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # an attacker's own client
        s.settimeout(10)
        s.connect(str(election.socket_path(db)))
        out["connect"] = "connected"
        try:
            wire.send(s, ("sql.execute", ("SELECT count(*) FROM events", None), {}))
            out["reply"] = repr(wire.recv(s))
        except (OSError, wire.ConnectionLost) as exc:
            out["reply"] = type(exc).__name__
    except OSError as exc:
        out["connect"] = type(exc).__name__
    try:
        from agentcore_nb.project import Project
        Project(db.parent).database
        out["project"] = "opened"
    except Exception as exc:
        out["project"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(out))
    """
)


@pytest.fixture
def open_home() -> Iterator[Path]:
    """A project directory any user can traverse (pytest's own tmp dirs are 0700)."""
    base = Path(tempfile.mkdtemp(prefix="agentcore-otheruser-", dir="/tmp"))
    base.chmod(0o755)
    home = base / "home"
    home.mkdir(mode=0o755)
    try:
        yield home
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run_as_nobody(db_path: Path) -> dict:
    cmd = as_nobody(ATTACK, str(db_path))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_another_user_cannot_connect_or_take_over(open_home: Path) -> None:
    with Project(open_home) as p:
        p.event_log.flush()
        sock = election.socket_path(p.database_path)
        assert sock.stat().st_mode & 0o777 == 0o600
        seen = run_as_nobody(p.database_path)
        assert seen["uid"] == 65534
        assert seen["connect"] == "PermissionError"  # the socket file is owner-only
        assert seen["project"].startswith("EventLogError") or seen["project"].startswith(
            "StateUnavailableError"
        ), seen
        # even with the file opened up, the owner checks the peer's uid before reading a byte
        sock.chmod(0o666)
        seen = run_as_nobody(p.database_path)
        assert seen["connect"] == "connected", seen
        assert seen["reply"] in ("ConnectionLost", "ConnectionResetError", "BrokenPipeError"), seen
        p.event_log.flush()  # and the owner is unharmed


IMPOSTOR = textwrap.dedent(
    """
    import fcntl, os, socket, sys, time
    home = sys.argv[1]
    fd = os.open(os.path.join(home, "agentcore.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)  # looks like an owner
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(os.path.join(home, "agentcore.sock"))
    os.chmod(os.path.join(home, "agentcore.sock"), 0o777)
    s.listen(8)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        c.sendall(b"would answer with a pickle")
    """
)


def test_a_socket_planted_by_another_user_is_refused(open_home: Path) -> None:
    open_home.chmod(0o1777)  # a shared, world-writable directory: anyone may create files in it
    cmd = as_nobody(IMPOSTOR, str(open_home))
    impostor = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert impostor.stdout.readline().strip() == "ready"
        with pytest.raises(EventLogError, match=r"served by another user \(uid 65534\)"):
            Project(open_home).database
    finally:
        impostor.kill()
        impostor.wait()
