"""OTLP/HTTP export to a real local receiver (protobuf decoded), endpoints that refuse or hang,
and a user's own SDK configuration (before or after the project started) respected."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agentcore_nb import Graph
from agentcore_nb.project import Project


class Receiver:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.paths: list[str] = []
        self.got = threading.Event()


@pytest.fixture
def receiver() -> Iterator[tuple[str, Receiver]]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            req = ExportTraceServiceRequest()
            req.ParseFromString(body)
            for rs in req.resource_spans:
                for ss in rs.scope_spans:
                    rec.names.extend(s.name for s in ss.spans)
            rec.paths.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()
            self.wfile.write(b"")
            rec.got.set()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", rec
    server.shutdown()
    server.server_close()


def _graph() -> Graph:
    g = Graph("exported")
    g.node("a", lambda: 1)
    g.node("b", lambda a: a + 1, inputs=["a"])
    return g


def test_spans_reach_a_local_otlp_receiver(receiver, agentcore_home: Path, monkeypatch) -> None:
    url, rec = receiver
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
    with Project(agentcore_home) as project:
        result = project.runtime().run(_graph())
        assert result.ok
        assert project.tracing.flush()
        assert len(project.tracing.store.spans(result.run_id)) == 3  # the store too
    assert rec.got.wait(30)
    assert rec.paths[0] == "/v1/traces"
    assert sorted(rec.names) == ["execute_node a", "execute_node b", "invoke_workflow exported"]


def _dead_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_refusing_endpoint_never_breaks_a_run_one_warning(agentcore_home: Path, monkeypatch, capfd) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{_dead_port()}")
    with Project(agentcore_home) as project:
        for _ in range(2):
            assert project.runtime().run(_graph()).ok
        project.tracing.otlp.force_flush(20_000)
        assert project.tracing.flush()
        assert len(project.tracing.store.runs()) == 2
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("agentcore: warning: OTLP export to"), err


def test_hanging_endpoint_never_blocks_a_run(agentcore_home: Path, monkeypatch) -> None:
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(8)  # accepts connections, never answers
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{hang.getsockname()[1]}")
        with Project(agentcore_home) as project:
            done = threading.Event()

            def go() -> None:
                assert project.runtime().run(_graph()).ok
                done.set()

            threading.Thread(target=go, daemon=True).start()
            assert done.wait(60)  # the run returns while the export still waits on the endpoint
            assert project.tracing.flush()
    finally:
        hang.close()


USER_SDK = """
import json, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from agentcore_nb import Graph
from agentcore_nb.project import Project

def user_sdk():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter

def size(items: list) -> int:
    'How many items.'
    return len(items)

g = Graph("mine")
g.node("a", lambda: 1)
order = sys.argv[1]
exporter = user_sdk() if order == "user-first" else None
with Project(sys.argv[2]) as project:
    first = project.runtime().run(g)
    if order == "project-first":
        exporter = user_sdk()
    gateway = project.services["gateway"]
    gateway.register_function(size)
    second = project.runtime().run(g)
    gateway.call("size", {"items": [1, 2]})  # a component's span outside any run
    project.tracing.flush()
    store = project.tracing.store
    print(json.dumps({
        "user": sorted(s.name for s in exporter.get_finished_spans()),
        "store_first": len(store.spans(first.run_id)),
        "store_second": len(store.spans(second.run_id)),
    }))
"""


@pytest.mark.parametrize("order", ["user-first", "project-first"])
def test_a_users_sdk_is_respected_in_either_order(order: str, tmp_path: Path, subprocess_env) -> None:
    out = subprocess.run(
        [sys.executable, "-c", USER_SDK, order, str(tmp_path / "home")],
        capture_output=True,
        text=True,
        env=subprocess_env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "Overriding of current TracerProvider" not in out.stderr
    got = json.loads(out.stdout.splitlines()[-1])
    # every span after the user configured their SDK went to it (the component's span too)
    if order == "user-first":
        assert got["user"] == sorted(["invoke_workflow mine", "execute_node a"] * 2 + ["execute_tool size"])
        assert got["store_first"] == got["store_second"] == 0
    else:
        assert got["store_first"] == 2  # before: the project's store
        assert got["user"] == sorted(["invoke_workflow mine", "execute_node a", "execute_tool size"])
        assert got["store_second"] == 0
