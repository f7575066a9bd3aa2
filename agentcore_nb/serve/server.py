"""Run a served bundle under uvicorn: bind (a port in use is one line), serve, drain on SIGTERM.

uvicorn's graceful shutdown is the drain: on SIGTERM or SIGINT it stops accepting, lets in-flight
requests and streams finish (up to ``drain_timeout`` seconds), then returns; we close the project
(flushing the event log) and exit 0.
"""

from __future__ import annotations

import errno
import gc
import socket
import sys
from typing import Any

from ..errors import AgentcoreError
from .config import ServeConfig


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say they are
    # TCP; with it on, a response's body waits for the client's delayed ACK (40 ms per request).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise AgentcoreError(
                f"port {port} on {host} is in use", hint="choose another with --port, or stop what holds it"
            ) from None
        raise AgentcoreError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


#: The cyclic collector's thresholds while serving (CPython's default: 700, 10, 10).
GC_THRESHOLDS = (1000, 20, 100)


def tune_gc() -> None:
    """Make the cyclic garbage collector's pauses short for a long-running server.

    Measured under ``wrk`` (``docs/benchmarks.md``, per-collection CPU from ``gc.callbacks``): with
    the defaults a full (generation 2) collection came every second or so and took 40-90 ms of CPU
    with the GIL held, scanning the ~75,000 objects of the loaded libraries and bundle; those were
    the p99 tail. Everything loaded so far lives as long as the process, so it is frozen out of the
    collector's reach. The served runs' events and spans wait in the writers' batches (0.2-0.5 s)
    and so survive generation 0 (they are freed by reference counting once written); with these
    thresholds a generation 1 collection, which scans them, pauses 5-10 ms, and a full collection
    runs only every ~2 million net allocations instead of every second.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _server_class() -> Any:
    import uvicorn

    class DrainingServer(uvicorn.Server):  # type: ignore[misc]
        """uvicorn re-raises SIGTERM after its graceful shutdown (the process then dies of it);
        a drained service has done its job and exits 0."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            self._captured_signals.clear()

    return DrainingServer


def make_service(config: ServeConfig, project: Any = None) -> Any:
    """Load the bundle once (manifest check, module, graph, definitions) and wrap it as a service."""
    from ..export.bundle import load_bundle
    from ..export.runner import LoadedBundle
    from .app import Service

    bundle = load_bundle(config.bundle)
    loaded = LoadedBundle(bundle, project)
    if config.backend == "ray":
        from ..runtime.ray_backend import use_ray

        use_ray(loaded.project.runtime(), config.ray_address)
    return Service(config, loaded)


def serve(config: ServeConfig, *, ready: Any = None) -> None:
    """Serve until SIGTERM/SIGINT; ``ready(url)`` is called once listening."""
    import uvicorn

    from ..project import Project
    from .app import build_app

    config.check()
    sock = bind(config.host, config.port)
    project = Project.current()
    service = None
    try:
        service = make_service(config, project)
        app = build_app(service)
        server = _server_class()(
            uvicorn.Config(
                app,
                log_level="warning",
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=max(1, round(config.drain_timeout)),
                timeout_keep_alive=5,
            )
        )
        host, port = sock.getsockname()[:2]
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        tune_gc()
        if ready is not None:
            ready(url)
        else:
            print(f"agentcore serve: {service.loaded.name} listening on {url}", file=sys.stderr, flush=True)
        server.run(sockets=[sock])
    finally:
        sock.close()
        if service is not None:
            service.pool.shutdown(wait=True)  # drained: what still runs finishes and is logged
        remote = getattr(project._runtime, "remote", None)
        if remote is not None:
            remote.shutdown()
        project.close()
