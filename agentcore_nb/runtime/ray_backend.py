"""Scale-out on Ray: independent nodes of a run execute as Ray tasks; the driver keeps the rest.

The scheduler, events, spans and the event log stay in the driver (one writer): only the node
body's call crosses to Ray. A node goes to Ray when it is a ``python`` node with a plain callable
(no ``ctx`` parameter, not async, not a generator: those need the driver's run context or stream);
every other node (tools, memory, code, reason, agents, cell code) runs in the driver as on the
local backend, so results and events are the same. Functions of a bundle's ``cells.py`` (a module
made in memory) are pickled by value. The ``ray`` extra provides Ray (``pip install
agentcore-nb[ray]``).

Long-lived sub-agent sessions (a python callable taking ``session_state``, see
:mod:`.session_state`) run in a Ray actor per (session, node): the actor holds the session's
state and runs every call of that node in that session, so the state never travels; the actor ends
with the session (:meth:`Runtime.end_session`, a served session's expiry), when more than
``session_limit`` sessions are live (least recently used first), or when the backend shuts down.
"""

from __future__ import annotations

import inspect
import os
import socket
import sys
import threading
from typing import Any

from ..errors import AgentcoreError
from .session_state import LIMIT, PARAM, SessionStates, wants_session_state


def _check_reachable(address: str, timeout: float = 3.0) -> None:
    """A Ray address that does not answer is one line at once, not a hang in ``ray.init``."""
    if address in ("", "auto", "local"):
        return
    hostport = address.split("://", 1)[-1].rsplit("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise AgentcoreError(f"Ray address {address!r} is not HOST:PORT", hint="e.g. --address 10.0.0.5:6379")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise AgentcoreError(
            f"Ray at {address} does not answer ({exc.strerror or type(exc).__name__})",
            hint="start it with `ray start --head`, or leave --address out for a local Ray",
        ) from None


class RayBackend:
    """Runs eligible node bodies as Ray tasks (see the module docstring)."""

    def __init__(
        self, address: str = "", *, init: bool = True, session_limit: int = LIMIT, **init_kwargs: Any
    ) -> None:
        try:
            import ray
        except ImportError:
            raise AgentcoreError(
                "the Ray backend needs Ray", hint="pip install 'agentcore-nb[ray]'"
            ) from None
        self.ray = ray
        self._lock = threading.Lock()
        self._eligible: dict[int, Any] = {}
        self._by_value: set[str] = set()
        self.started = False
        if init and not ray.is_initialized():
            _check_reachable(address)
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            kwargs.update(init_kwargs)
            try:
                ray.init(address=address or None, **kwargs)
            except Exception as exc:
                line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise AgentcoreError(f"cannot start or join Ray: {line}") from None
            self.started = True

        @ray.remote
        def run_node(fn: Any, inputs: dict[str, Any]) -> Any:
            return fn(**inputs)

        self._task = run_node
        self._actor_class: Any = ray.remote(num_cpus=0)(session_actor_class())
        #: (session -> node id -> actor handle); a dropped session's actors are killed.
        self.actors = SessionStates(session_limit, on_drop=self._kill)
        self._session_fns: set[int] = set()

    def function_for(self, prepared: Any) -> Any:
        """The callable to run on Ray for this prepared node, or None (it runs in the driver)."""
        node = prepared.node
        if node.kind != "python":
            return None
        fn = node.config.get("callable")
        if fn is None or isinstance(fn, str):
            return None
        key = id(fn)
        with self._lock:
            if key in self._eligible:
                return self._eligible[key]
        ok = not (
            inspect.iscoroutinefunction(fn)
            or inspect.isgeneratorfunction(fn)
            or inspect.isasyncgenfunction(fn)
        )
        if ok:
            try:
                params = inspect.signature(fn).parameters
                ok = not ("ctx" in params and "ctx" not in node.inputs)
            except (TypeError, ValueError):
                ok = False
        found = fn if ok else None
        if found is not None:
            self._pickle_by_value(fn)
        with self._lock:
            self._eligible[key] = found
            if found is not None and wants_session_state(fn, node.inputs):
                self._session_fns.add(key)
        return found

    def _pickle_by_value(self, fn: Any) -> None:
        """Functions of modules a Ray worker cannot import (a bundle's cells) travel by value."""
        name = getattr(fn, "__module__", "") or ""
        module = sys.modules.get(name)
        if module is None or name in self._by_value or name == "__main__":
            return
        if name.startswith("agentcore_bundle_") or getattr(module, "__spec__", None) is None:
            self.ray.cloudpickle.register_pickle_by_value(module)
        self._by_value.add(name)

    def call(self, fn: Any, inputs: dict[str, Any], ctx: Any = None) -> Any:
        """Run ``fn(**inputs)`` as a Ray task (a sub-agent session's call: on its actor) and wait
        for its value (in a driver worker thread)."""
        if id(fn) in self._session_fns and ctx is not None:
            actor = self.actors.get(ctx.session_id, ctx.node_id, make=lambda: self._actor_class.remote(fn))
            return self.ray.get(actor.call.remote(inputs))
        return self.ray.get(self._task.remote(fn, inputs))

    def session_actors(self, session_id: str) -> dict[str, Any]:
        """The live actors of a session, by node id (for status and tests)."""
        return dict(self.actors._sessions.get(session_id) or {})

    def end_session(self, session_id: str) -> None:
        self.actors.end(session_id)

    def _kill(self, session_id: str, actors: dict[str, Any]) -> None:
        if not self.ray.is_initialized():
            return
        for actor in actors.values():
            try:
                self.ray.kill(actor)
            except Exception:
                pass

    def shutdown(self) -> None:
        self.actors.clear()
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()
        self.started = False


def session_actor_class() -> type:
    """The actor class, made here so it travels by value (like ``run_node``): Ray workers of a
    cluster need not have agentcore-nb installed."""

    class SessionActor:
        """One sub-agent session of one node on Ray: its state lives here between calls."""

        def __init__(self, fn: Any) -> None:
            self.fn = fn
            self.state: dict[str, Any] = {}

        def call(self, inputs: dict[str, Any]) -> Any:
            return self.fn(**{PARAM: self.state}, **inputs)

        def pid(self) -> int:
            import os

            return os.getpid()

    return SessionActor


def use_ray(runtime: Any, address: str = "", **init_kwargs: Any) -> RayBackend:
    """Make ``runtime`` run eligible nodes on Ray (started locally, or joined at ``address``)."""
    backend = RayBackend(address, **init_kwargs)
    runtime.remote = backend
    return backend
