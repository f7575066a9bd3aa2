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


@pytest.fixture(scope="module")
def interp(tmp_path_factory: pytest.TempPathFactory, planted_secret: str) -> Iterator[Interpreter]:
    it = Interpreter(tmp_path_factory.mktemp("interp"), limits=SMALL)
    yield it
    uids = [s.uid for s in it._sessions.values()]
    it.close()
    for uid in uids:  # the host is left with no process of any session
        assert procs.uid_processes(uid) == []


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
