"""The AgentCore Runtime contract over a bundle: ``POST /invocations`` and ``GET /ping``.

The bundle is loaded once (manifest check, ``cells.py``, graph, definitions: the export room's
:class:`LoadedBundle`, the runner ``agentcore run local`` uses); each request is one run of it on
the project's runtime, in a worker thread, with the request's session, request id and custom
headers in the run's context. A run whose output node yields values answers as a stream.

The hot path is lean on purpose (``docs/serve.md``, performance): ``POST /invocations`` is a plain
ASGI handler (no routing, no request/response objects on success), the run goes to a fixed pool of
``workers`` threads and comes back with one wake-up of the event loop, the graph's plan is built
once per bundle, node tokens are signed only when a node uses one, and the run's events are
group-committed by the log's writer thread with other runs' events instead of being waited for
(the service flushes the log when it drains; see :mod:`.server`).
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from queue import SimpleQueue
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..errors import AgentcoreError
from ..events import NodeFailed
from ..export.runner import LoadedBundle, jsonable, result_value, run_input
from ..runtime.context import CancelEvent
from ..runtime.scheduler import error_line
from ..runtime.stream import STREAM_KEY, background_tasks
from ..values import plain_json_text
from . import sse
from .config import CUSTOM_PREFIX, REQUEST_HEADER, SESSION_HEADER, ServeConfig
from .sessions import SessionExpired, SessionTable

_ids = random.Random()  # seeded once from os.urandom


_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_hex() -> str:
    """A random (version 4) UUID's 32 hex digits without a system call per request: ``uuid4()``
    reads ``os.urandom``, which drops the GIL and, under load, waits to get it back. Run and
    request ids must be unique, not secret (they are no credential). ``uuid.UUID(int=..,
    version=4).hex``, without building the object."""
    return format(_ids.getrandbits(128) & _V4_CLEAR | _V4_SET, "032x")


def dashed(hex32: str) -> str:
    """``str(uuid.UUID(hex32))``: the 8-4-4-4-12 form."""
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"


#: ``json.dumps(value, ensure_ascii=False)`` (the SDK's response text) without building an
#: encoder per call: only the all-defaults ``dumps`` reuses one.
_encode_result = json.JSONEncoder(ensure_ascii=False).encode


def _json_bytes(value: Any) -> bytes:
    """The response body of a result: ``sse.dumps(jsonable(value))`` with one encoding, not two,
    when the value is JSON (the usual case)."""
    try:
        return _encode_result(value).encode()
    except (TypeError, ValueError):
        return sse.dumps(jsonable(value)).encode()


class RunPool:
    """A fixed set of daemon threads taking runs from one queue: what ``ThreadPoolExecutor`` does
    for the service without its per-submit future, work item, lock and semaphore (no caller
    waits on a future here: a run reports through :class:`_Completions`)."""

    def __init__(self, workers: int, name: str) -> None:
        self._jobs: SimpleQueue[Callable[[], None] | None] = SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}_{i}", daemon=True) for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def _work(self) -> None:
        get = self._jobs.get
        while True:
            job = get()
            if job is None:
                return
            job()  # a run's work catches everything itself

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def shutdown(self, wait: bool = True) -> None:
        """Let queued runs finish, then stop the threads (waiting for them with ``wait``)."""
        for _ in self._threads:
            self._jobs.put(None)
        if wait:
            for t in self._threads:
                t.join()


class _Channel:
    """One request's messages from its run, in order; read on the event loop."""

    __slots__ = ("items", "loop", "waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.items: deque[tuple[str, Any]] = deque()
        self.waiter: asyncio.Future[None] | None = None

    def put(self, message: tuple[str, Any]) -> None:  # on the loop
        self.items.append(message)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> tuple[str, Any]:
        while not self.items:
            self.waiter = self.loop.create_future()
            await self.waiter
        return self.items.popleft()


class _Completions:
    """Hands messages from run threads to the event loop: one ``call_soon_threadsafe`` (a write to
    the loop's self-pipe, dropping and re-taking the GIL) wakes the loop for everything posted
    until it runs, instead of one per message. ``post`` appends then checks the flag; ``_drain``
    clears the flag then empties the deque, so no message is left behind."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.messages: deque[tuple[_Channel, tuple[str, Any]]] = deque()
        self.scheduled = False

    def post(self, channel: _Channel, message: tuple[str, Any]) -> None:  # any thread
        self.messages.append((channel, message))
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:  # on the loop
        self.scheduled = False
        messages = self.messages
        while messages:
            channel, message = messages.popleft()
            channel.put(message)


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
        #: Runs execute here, at most ``workers`` at once (more wait their turn).
        self.pool = RunPool(config.workers, "agentcore-serve")
        #: Where finished runs (and streamed values) wake the event loop, one per loop.
        self._hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Completions] = (
            weakref.WeakKeyDictionary()
        )
        self._hub: _Completions | None = None
        from ..runtime.plan import Plan

        Plan.for_graph(loaded.graph)  # compiled once, not on the first request
        #: Looked up once: ``Project.runtime()`` takes the project's lock on every call.
        self.runtime = loaded.project.runtime()

    # ------------------------------------------------------------------ sessions
    def _ended(self, session_id: str) -> None:
        self.loaded.project.runtime().end_session(session_id)  # its sub-agent state (and Ray actors)
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

    async def _body(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]]) -> bytes | None:
        """The request body, :class:`TooLarge` past the limit, None when the client went away."""
        limit = self.config.body_limit
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit() and int(value) > limit:
                    raise TooLarge
                break
        message = await receive()
        if message["type"] != "http.request":
            return None
        body = message.get("body", b"")
        if not message.get("more_body", False):
            if len(body) > limit:
                raise TooLarge
            return body  # one chunk: the usual case
        chunks, size = [body], len(body)
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def invocations(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """``POST /invocations`` as a plain ASGI handler (see the module docstring)."""
        try:
            body = await self._body(scope, receive)
        except TooLarge:
            body = None
            response: Response | tuple[bytes, str] | None = error(
                413, "Payload too large", details=f"the body limit is {self.config.body_limit} bytes"
            )
        else:
            response = Response(status_code=400) if body is None else None
        if response is None:
            assert body is not None
            response = await self._invoke(body, {k.decode("latin-1"): v for k, v in scope["headers"]})
        if isinstance(response, tuple):  # the common case: a JSON result, sent without an object
            text, run_id = response
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-length", str(len(text)).encode()),
                        (b"content-type", b"application/json"),
                        (b"x-agentcore-run-id", run_id.encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": text})
            return
        assert response is not None
        await response(scope, receive, send)

    async def _invoke(self, body: bytes, raw: dict[str, bytes]) -> Response | tuple[bytes, str]:
        try:
            payload = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            return error(400, "Invalid encoding", details=str(exc))
        except ValueError as exc:
            return error(400, "Invalid JSON", details=str(exc))
        found = raw.get(SESSION_HEADER)
        session_id = found.decode("latin-1") if found is not None else None
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
        request_id = raw.get(REQUEST_HEADER)
        context = {
            "request": {
                "request_id": request_id.decode("latin-1") if request_id else dashed(new_hex()),
                "session_id": session_id,
                "headers": {k: v.decode("latin-1") for k, v in raw.items() if k.startswith(CUSTOM_PREFIX)},
            }
        }
        plain = not self.parameters and plain_json_text(body)
        return await self._run(value, session_id, namespace, context, plain)

    async def _run(
        self,
        value: Any,
        session_id: str | None,
        namespace: dict[str, Any] | None,
        context: dict[str, Any],
        plain: bool = False,
    ) -> Response | tuple[bytes, str]:
        loop = asyncio.get_running_loop()
        hub = self._hub if self._hub is not None and self._hub.loop is loop else self._hub_for(loop)
        channel = _Channel(loop)
        cancel = CancelEvent()
        run_id = new_hex()
        output = self.output
        runtime = self.runtime
        graph = self.loaded.graph
        post = hub.post

        def sink(ctx: Any, item: Any) -> None:
            if output is None or ctx.node_id == output:
                post(channel, ("item", item))

        def work() -> None:
            try:
                result = runtime.run(
                    graph,
                    value,
                    session_id=session_id,
                    run_id=run_id,
                    namespace=namespace,
                    context=context,
                    state={STREAM_KEY: sink},
                    cancel=cancel,
                    flush=False,  # group-committed off the request path; flushed on drain
                    plain_input=plain,  # parsed from JSON text that cannot hide a ``$pickle``
                )
                message: tuple[str, Any] = ("done", result)
            except BaseException as exc:
                message = ("error", exc)
            post(channel, message)

        self.pool.submit(work)
        kind, got = await channel.get()
        if kind == "done" and got.ok:
            return _json_bytes(result_value(got.output)), run_id
        headers = {"X-Agentcore-Run-Id": run_id}
        if kind == "item":
            return StreamingResponse(
                self._stream(got, channel, cancel), media_type="text/event-stream", headers=headers
            )
        if kind == "error":
            return self._failed(error_line(got), headers)
        return self._failed(self._failure(got)[0], headers)

    def _hub_for(self, loop: asyncio.AbstractEventLoop) -> _Completions:
        hub = self._hubs.get(loop)
        if hub is None:
            hub = self._hubs[loop] = _Completions(loop)
        self._hub = hub
        return hub

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

    async def _stream(self, first: Any, channel: _Channel, cancel: threading.Event) -> AsyncIterator[bytes]:
        finished = False
        try:
            yield sse.event(jsonable(first))
            while True:
                kind, got = await channel.get()
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


class _Invocations:
    """The route's endpoint as an ASGI app (Starlette then hands it scope, receive and send)."""

    def __init__(self, service: Service) -> None:
        self.service = service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.service.invocations(scope, receive, send)


class ServiceApp:
    """The service's ASGI app: ``POST /invocations`` straight to :meth:`Service.invocations`,
    everything else (``/ping``, wrong methods, lifespan) through Starlette's routing."""

    def __init__(self, service: Service, routed: Starlette) -> None:
        self.service = service
        self.routed = routed
        self.state = routed.state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/invocations":
            await self.service.invocations(scope, receive, send)
        else:
            await self.routed(scope, receive, send)


def build_app(service: Service) -> Any:
    """The ASGI app, behind bearer auth when the service needs tokens (see :mod:`.auth`)."""
    from .auth import protect

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sweeper = asyncio.ensure_future(service._sweeper())
        try:
            yield
        finally:
            sweeper.cancel()

    routed = Starlette(
        routes=[
            Route("/invocations", _Invocations(service), methods=["POST"]),  # its 405, its slash redirect
            Route("/ping", service.ping, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    routed.state.service = service
    cfg = service.config
    name = service.loaded.name
    app = ServiceApp(service, routed)
    return protect(app, cfg.host, cfg.auth, service.loaded.project, scope=f"invoke:{name}", realm="agentcore")
