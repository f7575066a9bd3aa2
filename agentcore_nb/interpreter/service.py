"""The code interpreter service: named sessions, checks at the boundary, events and spans.

Shaped like AgentCore's code interpreter tools: ``execute_code`` (``executeCode``),
``execute_command``, ``write_files``, ``read_files``, ``list_files``, ``remove_files``, and
``stop_session``. Every call asks identity for ``code:exec`` (and ``net:HOST:PORT`` for each
permitted pair) *in that session*: a token holds the sandbox sessions named after its own
conversation (``SID``, ``run-SID``) and the ones it created; any other is refused (an
``AccessDenied`` event, one line). The local owner's untokened calls reach every session. Every
execution is an :class:`ActionEvent` plus an OpenTelemetry span (``execute_tool code_interpreter``).
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from opentelemetry.trace import Status, StatusCode

from ..authz import authorize, one_call
from ..errors import NotPermittedError
from ..eventlog.base import EventLog
from ..events import ActionEvent
from ..observability import conventions as conv
from ..observability import tracing
from ..runtime.context import NodeContext
from ..runtime.emitting import current_node
from ..runtime.emitting import emit as emit_event
from .limits import InterpreterError, Limits, parse_host_port
from .netrelay import NetRelay
from .pool import SandboxPool, pool_sizes
from .result import ExecutionResult
from .sandbox import Bubblewrap, normalize_language
from .session import CodeSession, check_session_name

TOOL_NAME = "code_interpreter"
DEFAULT_SESSION = "default"
_UNCLAIMED = object()
_live: weakref.WeakSet[Interpreter] = weakref.WeakSet()


@atexit.register
def _stop_all_at_exit() -> None:
    for interp in list(_live):
        interp.close()


class Interpreter:
    """Sandboxed Python / JavaScript / R sessions under ``root`` (a directory this object owns).

    ``unsafe_local=True`` runs code without isolation (every result says so); otherwise bubblewrap
    is required and its absence is an error that says how to install it. As root each session gets
    a uid of its own; otherwise the sandbox is rootless (user namespaces). ``pool`` keeps
    pre-warmed sandboxes per language for new sessions (``True``, a size, or {language: size}).
    """

    def __init__(
        self,
        root: str | Path,
        *,
        limits: Limits | None = None,
        unsafe_local: bool = False,
        idle_timeout: float = 900.0,
        event_log: EventLog | None = None,
        services: Mapping[str, Any] | None = None,
        tracer_provider: Any = None,
        bwrap: str | None = None,
        pool: bool | int | Mapping[str, int] = False,
    ) -> None:
        self.root = Path(root)
        self.limits = limits or Limits()
        self.unsafe_local = bool(unsafe_local)
        self.idle_timeout = float(idle_timeout)
        self.event_log = event_log
        self.services = services
        self.tracer = (
            tracer_provider.get_tracer("agentcore_nb.interpreter")
            if tracer_provider is not None
            else tracing.tracer("agentcore_nb.interpreter")
        )
        self._bwrap = None if self.unsafe_local else Bubblewrap(bwrap)
        self._sessions: dict[str, CodeSession] = {}
        #: Who holds each session name: the token session (``sid``) that first used it, or None for
        #: the local owner. Dropped with the session.
        self._owners: dict[str, str | None] = {}
        self._lock = threading.Lock()
        self._relay = NetRelay()
        self._closed = False
        self._reaper: threading.Thread | None = None
        self._wake = threading.Event()
        # pre-warmed sandboxes (``pool=True``, a size, or {language: size}); off by default
        sizes = pool_sizes(pool)
        self._pool = SandboxPool(self.root, self._bwrap, self.limits, sizes) if sizes else None
        _live.add(self)

    # ------------------------------------------------------------------ sessions
    def session(
        self, name: str = DEFAULT_SESSION, *, language: str | None = None, limits: Limits | None = None
    ) -> CodeSession:
        """The named session, started on first use (from the pool, when it has a sandbox ready
        for ``language`` with these ``limits``)."""
        check_session_name(name)
        with self._lock:
            if self._closed:
                raise InterpreterError("the code interpreter was closed")
            found = self._sessions.get(name)
            if found is None or found.closed:
                self.root.mkdir(parents=True, exist_ok=True)
                warm = None
                if self._pool is not None and language is not None:
                    warm = self._pool.take(language, limits or self.limits)
                found = CodeSession(
                    name, self.root, bwrap=self._bwrap, limits=self.limits, relay=self._relay, warm=warm
                )
                self._sessions[name] = found
                self._start_reaper()
            return found

    def sessions(self) -> list[str]:
        with self._lock:
            return [n for n, s in self._sessions.items() if not s.closed]

    def stop_session(self, name: str, *, token: str | None = None) -> bool:
        """Stop a session: every process is killed and its files deleted. False if there was none."""
        check_session_name(name)
        self._hold(token, name)
        with self._lock:
            found = self._sessions.pop(name, None)
            self._owners.pop(name, None)
        if found is None:
            return False
        found.stop()
        return True

    def reap_idle(self, now: float | None = None) -> list[str]:
        """Stop sessions idle for longer than ``idle_timeout``; returns their names."""
        now = time.monotonic() if now is None else now
        with self._lock:
            candidates = [(n, s) for n, s in self._sessions.items() if now - s.last_used > self.idle_timeout]
        stopped = []
        for name, sess in candidates:
            if not sess.lock.acquire(blocking=False):
                continue  # running right now: not idle
            try:
                if now - sess.last_used <= self.idle_timeout:
                    continue
                with self._lock:
                    if self._sessions.get(name) is sess:
                        del self._sessions[name]
                        self._owners.pop(name, None)
                sess.stop()
                stopped.append(name)
            finally:
                sess.lock.release()
        return stopped

    def _start_reaper(self) -> None:
        if self._reaper is None:
            self._reaper = threading.Thread(
                target=self._reap_loop, name="agentcore-interpreter-idle", daemon=True
            )
            self._reaper.start()

    def _reap_loop(self) -> None:
        while not self._wake.wait(min(30.0, max(0.05, self.idle_timeout / 4))):
            try:
                self.reap_idle()
            except Exception:
                pass

    def close(self) -> None:
        """Stop every session."""
        with self._lock:
            self._closed = True
            sessions, self._sessions = list(self._sessions.values()), {}
            self._owners.clear()
        self._wake.set()
        if self._pool is not None:
            self._pool.close()
        for s in sessions:
            s.stop()
        self._relay.close()

    # ------------------------------------------------------------------ executions
    def _limits(self, timeout: float | None, limits: Limits | dict[str, Any] | None) -> Limits:
        base = self.limits
        if isinstance(limits, Limits):
            base = limits
        elif isinstance(limits, dict):
            base = base.replace(**limits)
        elif limits is not None:
            raise InterpreterError(f"limits must be a Limits or a dict, got {type(limits).__name__}")
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
                raise InterpreterError(f"timeout must be a positive number of seconds, got {timeout!r}")
            base = base.replace(wall_seconds=float(timeout))
        return base

    def _hold(self, token: str | None, session: str, more: tuple[str, ...] = ()) -> None:
        """``code:exec`` (and ``more`` scopes) for ``token`` in ``session``, all as one boundary call
        (a single-use token is spent once). A token holds the sessions of its own conversation
        (identity's ``same_session``: ``SID``, ``run-SID``) and names it was the first to use;
        ``run-...`` names belong to their conversation only. A session the local owner (no token)
        started is held only by the conversation it is named after; started inside a run, by that
        run's conversation."""
        check_session_name(session)
        with self._lock:
            owner = self._owners.get(session, _UNCLAIMED)
            live = self._sessions.get(session)
            if owner is _UNCLAIMED and live is not None and not live.closed:  # from session()
                owner = self._owners[session] = None
        if owner is _UNCLAIMED:
            bound = session if session.startswith("run-") else None
        else:
            bound = session if owner is None else owner  # type: ignore[assignment]
        with one_call():
            claims = authorize(self.services, token, "code:exec", session_id=bound)
            for scope in more:
                authorize(self.services, token, scope, session_id=bound)
            if owner is _UNCLAIMED:
                holder = getattr(claims, "session", None)
                if holder is None and token is None:
                    # The owner's own code inside a run (e.g. a python cell of an exported notebook
                    # staging files) claims the name for that run's conversation, so the run's own
                    # code nodes, whose tokens are for that conversation, hold it too.
                    node = current_node()
                    holder = node.session_id if node is not None and node.session_id else None
                with self._lock:
                    current = self._owners.setdefault(session, holder)
                if current != holder and claims is not None:  # another caller claimed it just now
                    authorize(self.services, token, "code:exec", session_id=current or session)

    def _permit(self, token: str | None, session: str, allow_net: Any) -> list[tuple[str, int]]:
        if allow_net is None:
            allow_net = []
        elif isinstance(allow_net, str):
            allow_net = [allow_net]
        pairs = [parse_host_port(x) for x in allow_net]
        self._hold(token, session, tuple(f"net:{host}:{port}" for host, port in pairs))
        return pairs

    def execute_code(
        self,
        code: str,
        *,
        language: str = "python",
        session: str = DEFAULT_SESSION,
        clear_context: bool = False,
        timeout: float | None = None,
        limits: Limits | dict[str, Any] | None = None,
        allow_net: list[str] | str | None = None,
        token: str | None = None,
        ctx: NodeContext | None = None,
    ) -> ExecutionResult:
        """Run ``code`` in the session's persistent interpreter for ``language``."""
        if not isinstance(code, str):
            raise InterpreterError(f"code must be a string, got {type(code).__name__}")
        lang = normalize_language(language)
        lim = self._limits(timeout, limits)
        check_session_name(session)
        action_input = {
            "language": lang,
            "code": code[:4000],
            "session": session,
            "clear_context": bool(clear_context),
        }
        return self._traced(
            "executeCode",
            action_input,
            session,
            token,
            allow_net,
            ctx,
            lambda pairs: self.session(session, language=lang, limits=lim).execute_code(
                code, lang, limits=lim, clear_context=bool(clear_context), allow_net=pairs
            ),
        )

    def execute_command(
        self,
        command: str,
        *,
        session: str = DEFAULT_SESSION,
        timeout: float | None = None,
        limits: Limits | dict[str, Any] | None = None,
        allow_net: list[str] | str | None = None,
        token: str | None = None,
        ctx: NodeContext | None = None,
    ) -> ExecutionResult:
        """Run a shell command (``/bin/sh -c``) in a fresh sandbox on the session's work directory."""
        if not isinstance(command, str) or not command.strip():
            raise InterpreterError("command must be a non-empty string")
        lim = self._limits(timeout, limits)
        check_session_name(session)
        return self._traced(
            "executeCommand",
            {"command": command[:4000], "session": session},
            session,
            token,
            allow_net,
            ctx,
            lambda pairs: self.session(session).execute_command(command, limits=lim, allow_net=pairs),
        )

    def _traced(
        self,
        action: str,
        action_input: dict[str, Any],
        session: str,
        token: str | None,
        allow_net: Any,
        ctx: NodeContext | None,
        run: Callable[[list[tuple[str, int]]], ExecutionResult],
    ) -> ExecutionResult:
        attrs = {
            conv.OPERATION: conv.EXECUTE_TOOL,
            conv.TOOL_NAME: TOOL_NAME,
            conv.TOOL_TYPE: "extension",
            conv.CONVERSATION: session,
            **conv.content_attributes(tool_arguments=action_input),
            conv.CODE_ACTION: action,
        }
        if "language" in action_input:
            attrs[conv.CODE_LANGUAGE] = action_input["language"]
        own_span = ctx is None
        if ctx is None:  # a direct call: our own span, under whatever span is current
            span = self.tracer.start_span(conv.span_name(conv.EXECUTE_TOOL, TOOL_NAME), attributes=attrs)
        else:  # a code node: the runtime's node span is ours to annotate
            span = ctx.span
            span.set_attributes({k: v for k, v in attrs.items() if k != conv.OPERATION})
        t0 = time.perf_counter()
        try:
            try:
                pairs = self._permit(token, session, allow_net)
            except NotPermittedError as exc:
                self._event(ctx, span, session, action, action_input, None, "denied", str(exc), t0)
                raise
            if pairs:
                action_input = {**action_input, "allow_net": [f"{h}:{p}" for h, p in pairs]}
            result = run(pairs)
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, str(exc)))
            span.set_attribute(conv.ERROR_TYPE, type(exc).__name__)
            if own_span:
                span.end()
            raise
        span.set_attribute(conv.CODE_CPU_MS, result.cpu_ms)
        span.set_attribute(conv.CODE_PEAK_MEMORY, result.peak_memory_bytes)
        span.set_attribute(conv.CODE_SANDBOX, result.sandbox)
        if result.limits_hit:
            span.set_attribute(conv.LIMITS_HIT, result.limits_hit)
        if not result.ok:
            span.set_status(Status(StatusCode.ERROR, result.error_line()))
            span.set_attribute(conv.ERROR_TYPE, (result.error or {}).get("name", "LimitExceeded"))
        status = "succeeded" if result.ok else "failed"
        self._event(ctx, span, session, action, action_input, result, status, result.error_line(), t0)
        if own_span:
            span.end()
        return result

    def _event(
        self,
        ctx: NodeContext | None,
        span: Any,
        session: str,
        action: str,
        action_input: dict[str, Any],
        result: ExecutionResult | None,
        status: str,
        error: str,
        t0: float,
    ) -> None:
        event = ActionEvent(
            action=action,
            input=action_input,
            output=result.summary() if result else None,
            status=status,
            error=error,
            duration_ms=(time.perf_counter() - t0) * 1000,
            attributes={
                conv.TOOL_NAME: TOOL_NAME,
                "interpreter_session": session,
                **(
                    {
                        "language": result.language,
                        "wall_ms": result.wall_ms,
                        "cpu_ms": result.cpu_ms,
                        "peak_memory_bytes": result.peak_memory_bytes,
                        "limits_hit": result.limits_hit,
                        "sandbox": result.sandbox,
                    }
                    if result
                    else {}
                ),
            },
        )
        if ctx is not None or current_node() is not None:
            emit_event(event, ctx=ctx, span=span)  # the seam fills the node's ids
        elif self.event_log is not None:
            event.session_id = session
            emit_event(event, log=self.event_log, span=span)

    # ------------------------------------------------------------------ files
    def write_files(
        self, content: list[dict[str, Any]], *, session: str = DEFAULT_SESSION, token: str | None = None
    ) -> list[dict[str, Any]]:
        self._hold(token, session)
        return self.session(session).write_files(content)

    def read_files(
        self, paths: list[str], *, session: str = DEFAULT_SESSION, token: str | None = None
    ) -> list[dict[str, Any]]:
        self._hold(token, session)
        return self.session(session).read_files(paths)

    def list_files(
        self, path: str = ".", *, session: str = DEFAULT_SESSION, token: str | None = None
    ) -> list[dict[str, Any]]:
        self._hold(token, session)
        return self.session(session).list_files(path)

    def remove_files(
        self, paths: list[str], *, session: str = DEFAULT_SESSION, token: str | None = None
    ) -> list[str]:
        self._hold(token, session)
        return self.session(session).remove_files(paths)

    def __enter__(self) -> Interpreter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
