"""The AgentCore Runtime contract over a bundle: ``POST /invocations`` and ``GET /ping``.

The bundle is loaded once (manifest check, ``cells.py``, graph, definitions: the export room's
:class:`LoadedBundle`, the runner ``agentcore run local`` uses); each request is one run of it on
the project's runtime, in a worker thread, with the request's session, request id and custom
headers in the run's context. A run whose output node yields values answers as a stream.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..errors import AgentcoreError
from ..events import NodeFailed
from ..export.runner import LoadedBundle, jsonable, result_value, run_input
from ..runtime.scheduler import error_line
from ..runtime.stream import STREAM_KEY, background_tasks
from . import sse
from .config import CUSTOM_PREFIX, REQUEST_HEADER, SESSION_HEADER, ServeConfig
from .sessions import SessionExpired, SessionTable


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


class TooLarge(Exception):
    pass


class Service:
    """One served bundle: its loaded graph, sessions and the contract's two routes."""

    def __init__(self, config: ServeConfig, loaded: LoadedBundle) -> None:
        self.config = config
        self.loaded = loaded
        self.parameters = loaded.bundle.parameters
        self.output = loaded.graph.output
        self.sessions = SessionTable(
            idle=config.session_idle, max_lifetime=config.session_max_lifetime, on_expire=self._ended
        )
        self.limiter = anyio.CapacityLimiter(config.workers)

    # ------------------------------------------------------------------ sessions
    def _ended(self, session_id: str) -> None:
        memory = self.loaded.project.services.opened().get("memory")
        if memory is not None and hasattr(memory, "end_session"):
            memory.end_session(session_id)

    async def _sweeper(self) -> None:
        every = max(0.5, min(30.0, self.config.session_idle / 2))
        while True:
            await asyncio.sleep(every)
            self.sessions.sweep()

    # ------------------------------------------------------------------ routes
    async def ping(self, request: Request) -> Response:
        busy = background_tasks.active > 0
        return JSONResponse(
            {"status": "HealthyBusy" if busy else "Healthy", "time_of_last_update": background_tasks.changed}
        )

    async def _body(self, request: Request) -> bytes:
        limit = self.config.body_limit
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise TooLarge
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    async def invocations(self, request: Request) -> Response:
        try:
            body = await self._body(request)
        except TooLarge:
            return error(
                413, "Payload too large", details=f"the body limit is {self.config.body_limit} bytes"
            )
        except ClientDisconnect:
            return Response(status_code=400)
        try:
            payload = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            return error(400, "Invalid encoding", details=str(exc))
        except ValueError as exc:
            return error(400, "Invalid JSON", details=str(exc))
        headers = request.headers
        session_id = headers.get(SESSION_HEADER)
        namespace = None
        if session_id is not None:
            if not session_id or len(session_id) > 256 or not session_id.isprintable():
                return error(400, "Invalid session id", details="1-256 printable characters")
            try:
                namespace = self.sessions.touch(session_id).namespace
            except SessionExpired as exc:
                return error(404, str(exc), details=exc.hint or "")
        try:
            value = run_input(self.loaded.bundle, payload) if self.parameters else payload
        except AgentcoreError as exc:
            return error(400, str(exc).replace("--input", "the body"), details=exc.hint or "")
        request_id = headers.get(REQUEST_HEADER) or str(uuid.uuid4())
        context = {
            "request": {
                "request_id": request_id,
                "session_id": session_id,
                "headers": {k: v for k, v in headers.items() if k.startswith(CUSTOM_PREFIX)},
            }
        }
        return await self._run(value, session_id, namespace, context)

    async def _run(
        self, value: Any, session_id: str | None, namespace: dict[str, Any] | None, context: dict[str, Any]
    ) -> Response:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        cancel = threading.Event()
        run_id = uuid.uuid4().hex
        output = self.output

        def sink(ctx: Any, item: Any) -> None:
            if output is None or ctx.node_id == output:
                loop.call_soon_threadsafe(queue.put_nowait, ("item", item))

        def work() -> None:
            try:
                result = self.loaded.project.runtime().run(
                    self.loaded.graph,
                    value,
                    session_id=session_id,
                    run_id=run_id,
                    namespace=namespace,
                    context=context,
                    state={STREAM_KEY: sink},
                    cancel=cancel,
                )
                message: tuple[str, Any] = ("done", result)
            except BaseException as exc:
                message = ("error", exc)
            loop.call_soon_threadsafe(queue.put_nowait, message)

        task = asyncio.ensure_future(anyio.to_thread.run_sync(work, limiter=self.limiter))
        headers = {"X-Agentcore-Run-Id": run_id}
        kind, got = await queue.get()
        if kind == "item":
            return StreamingResponse(
                self._stream(got, queue, cancel, task), media_type="text/event-stream", headers=headers
            )
        if kind == "error":
            return self._failed(error_line(got), headers)
        if not got.ok:
            return self._failed(self._failure(got)[0], headers)
        return Response(
            sse.dumps(jsonable(result_value(got.output))), media_type="application/json", headers=headers
        )

    def _failed(self, message: str, headers: dict[str, str]) -> Response:
        return JSONResponse({"error": message}, status_code=500, headers=headers)

    def _failure(self, result: Any) -> tuple[str, str]:
        """The run's first final node failure: one line, and the error's type (from the log)."""
        if result.status == "cancelled":
            return "the run was cancelled", "Cancelled"
        node, message = next(iter(result.errors.items()), ("", f"run {result.status}"))
        error_type = "NodeError"
        for e in reversed(self.loaded.project.event_log.events(result.run_id)):
            if isinstance(e, NodeFailed) and e.final and (not node or e.node_id == node):
                error_type = e.error_type
                break
        return (f"node '{node}' failed: {message}" if node else message), error_type

    async def _stream(
        self, first: Any, queue: asyncio.Queue[tuple[str, Any]], cancel: threading.Event, task: Any
    ) -> AsyncIterator[bytes]:
        finished = False
        try:
            yield sse.event(jsonable(first))
            while True:
                kind, got = await queue.get()
                if kind == "item":
                    yield sse.event(jsonable(got))
                    continue
                finished = True
                if kind == "error":
                    yield sse.error_event(error_line(got), type(got).__name__)
                elif not got.ok:
                    yield sse.error_event(*self._failure(got))
                return
        finally:
            if not finished:
                cancel.set()  # the client went away: the run stops at its next value, cancelled


def build_app(service: Service) -> Any:
    """The Starlette app, behind bearer auth when the service needs tokens (see :mod:`.auth`)."""
    from .auth import protect

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sweeper = asyncio.ensure_future(service._sweeper())
        try:
            yield
        finally:
            sweeper.cancel()

    app = Starlette(
        routes=[
            Route("/invocations", service.invocations, methods=["POST"]),
            Route("/ping", service.ping, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.service = service
    cfg = service.config
    name = service.loaded.name
    return protect(app, cfg.host, cfg.auth, service.loaded.project, scope=f"invoke:{name}", realm="agentcore")
