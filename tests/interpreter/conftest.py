"""A real bubblewrap sandbox with small limits (so they trip fast), a secret planted in this
process's environment, and a real HTTP service on the host's 127.0.0.1 for the network tests."""

from __future__ import annotations

import http.server
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentcore_nb.interpreter import Interpreter, Limits, procs
from agentcore_nb.interpreter.limits import MiB

SECRET_NAME = "AGENTCORE_ESCAPE_TEST_SECRET"
SECRET = "s3cr3t-" + uuid.uuid4().hex

SMALL = Limits(
    wall_seconds=10,
    cpu_seconds=2,
    memory_bytes=256 * MiB,
    processes=32,
    file_size_bytes=4 * MiB,
    open_files=256,  # R refuses to start with fewer
    output_bytes=64 * 1024,
    tmp_bytes=16 * MiB,
)


@pytest.fixture(scope="session", autouse=True)
def planted_secret() -> Iterator[str]:
    """A host secret in the environment of the process that starts every sandbox."""
    os.environ[SECRET_NAME] = SECRET
    yield SECRET
    os.environ.pop(SECRET_NAME, None)


#: Not root: the sandbox is rootless (a user namespace; every session runs as this very user).
ROOTLESS = os.geteuid() != 0


def pid_namespace(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def sandbox_namespaces(interps: list[Interpreter]) -> set[str]:
    """The PID namespaces of the live sandboxes of ``interps``."""
    found = set()
    for it in interps:
        for sess in list(it._sessions.values()):
            for kernel in list(sess.kernels.values()):
                if kernel.launched is not None:
                    found.add(pid_namespace(kernel.launched.init_pid))
    return {ns for ns in found if ns is not None}


def stray_processes(uid: int, closed: Interpreter) -> list[int]:
    """Processes of ``uid`` on the host after ``closed`` was closed. Root mode: the uid was the
    session's own, so any. Rootless: the uid is this test's own, so any but this process and the
    sandboxes of interpreters still open elsewhere in the suite."""
    if not ROOTLESS:
        return procs.uid_processes(uid)
    from agentcore_nb.interpreter.service import _live

    others = sandbox_namespaces([it for it in list(_live) if it is not closed])
    return [p for p in procs.uid_processes(uid) if p != os.getpid() and pid_namespace(p) not in others]


@pytest.fixture(scope="module")
def interp(tmp_path_factory: pytest.TempPathFactory, planted_secret: str) -> Iterator[Interpreter]:
    it = Interpreter(tmp_path_factory.mktemp("interp"), limits=SMALL)
    assert it._bwrap is not None and it._bwrap.rootless == ROOTLESS
    yield it
    uids = {s.uid for s in it._sessions.values()}
    it.close()
    for uid in uids:  # the host is left with no process of any session
        assert stray_processes(uid, it) == []


class HostService:
    """A real HTTP server on the host's loopback (what sandboxed code must not reach uninvited)."""

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b"host-service-secret-data"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def host_service() -> Iterator[HostService]:
    svc = HostService()
    yield svc
    svc.close()


def host_paths_untouched(paths: list[Path]) -> None:
    for p in paths:
        assert not p.exists(), f"sandboxed code created {p} on the host"
