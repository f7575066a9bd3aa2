"""Executes a plan: dependency counting, concurrency, retries, timeouts, fallbacks, skip propagation.

The loop runs in the caller's thread. Ready sync bodies go to the worker pool, async bodies to the
runtime's event loop; a lone ready node with nothing else in flight runs inline (no concurrency is
lost and a thread hop is saved). Completions come back on one queue; retry wake-ups and timeouts
are timers on a heap. Every state change is an event.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import time
from collections import deque
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from ..errors import AgentcoreError, SerializationError
from ..events import NodeFailed, NodeSkipped, NodeStarted, NodeSucceeded
from ..observability import conventions as conv
from ..values import encode_value
from .context import NodeContext, RunContext, span_ids
from .emitting import enter_node, leave_node
from .lifecycle import attempt_failed
from .lifecycle import error_line as error_line  # where callers have imported it from
from .plan import Plan
from .stream import drain_output

if TYPE_CHECKING:
    from concurrent.futures import Future

    from .runtime import Runtime

_UNSAVED = "$unsaved"
_tokens = itertools.count(1)


class Execution:
    """One pass of the scheduler over a set of nodes of a plan."""

    def __init__(
        self,
        runtime: Runtime,
        run: RunContext,
        plan: Plan,
        *,
        input: Any,
        parent_span: trace.Span,
        prefix: str = "",
        only: set[str] | None = None,
        done: dict[str, tuple[str, Any]] | None = None,
    ) -> None:
        self.rt = runtime
        self.run = run
        self.plan = plan
        self.input = input
        self.prefix = prefix
        self.parent_ctx = trace.set_span_in_context(parent_span)
        self.status: dict[str, str] = {}
        self.outputs: dict[str, Any] = {}
        self.errors: dict[str, str] = {}
        self.encoded: dict[str, tuple[Any, dict[str, Any]]] = {}
        self.remaining: dict[str, int] = {}
        self.ready: deque[str] = deque()
        self.inflight: dict[str, int] = {}
        self.futures: dict[str, Future[Any]] = {}
        self.attempt: dict[str, int] = {}
        self.contexts: dict[str, NodeContext] = {}
        self.inputs: dict[str, dict[str, Any]] = {}
        self.started: dict[str, float] = {}
        self.standin: dict[str, str] = {}  # running fallback key -> node it stands in for
        self.key_node: dict[str, str] = {}  # fallback instance key -> node name
        self.timers: list[tuple[float, int, str, str, int]] = []
        self.retrying = 0
        self.completions: SimpleQueue[tuple[str, int, bool, Any, BaseException | None, float]] = SimpleQueue()
        if only is None and not done:  # a whole run: the plan holds its start
            self.members = set(plan.members)
            self.remaining = dict(plan.remaining)
            self.ready.extend(plan.roots)
            self.open = len(plan.members)
            return
        done = done or {}
        members = [
            n for n in plan.nodes if n not in plan.standby and (only is None or n in only) and n not in done
        ]
        self.members = set(members)
        for name, (status, value) in done.items():
            self.status[name] = status
            self.outputs[name] = value
        for name in plan.nodes:
            if name in self.members:
                continue
            if name not in done and name not in plan.standby:
                # outside ``only``: treated as done, its current value (if any) given by the caller
                self.status[name] = "succeeded"
                self.outputs.setdefault(name, None)
        self.open = len(members)
        for name in members:
            count = sum(1 for d in plan.nodes[name].deps if d in self.members)
            self.remaining[name] = count
            if count == 0:
                self.ready.append(name)

    # ------------------------------------------------------------------ main loop
    def execute(self) -> None:
        sync = self.rt.durability == "sync"
        try:
            while self.open > 0:
                if self.run.cancel.is_set():
                    self._cancel()
                    return
                while self.ready:
                    if sync:  # what made this node ready is committed before it starts
                        self.run.log.flush()
                    self._start(self.ready.popleft())
                if self.open <= 0:
                    break
                self._wait()
        except BaseException:
            self._cancel()
            raise

    def _wait(self) -> None:
        timeout = None
        if self.timers:
            timeout = max(0.0, self.timers[0][0] - time.monotonic())
        if not self.inflight and not self.timers:
            raise RuntimeError("scheduler stalled: nothing running and nothing ready")  # a bug
        try:
            item = self.completions.get(timeout=timeout) if timeout != 0.0 else self.completions.get_nowait()
        except Empty:
            item = None
        while item is not None:
            self._complete(*item)
            try:
                item = self.completions.get_nowait()
            except Empty:
                item = None
        self._fire_timers()

    def _fire_timers(self) -> None:
        now = time.monotonic()
        while self.timers and self.timers[0][0] <= now:
            _, _, what, key, token = heapq.heappop(self.timers)
            if what == "retry":
                self.retrying -= 1
                ctx = self.contexts[key]
                ctx.attempt = self.attempt[key]
                ctx.emit(NodeStarted(kind=ctx.node.kind, attempt=ctx.attempt))
                self._dispatch(key)
            elif what == "timeout" and self.inflight.get(key) == token:
                del self.inflight[key]
                future = self.futures.pop(key, None)
                if future is not None:
                    future.cancel()
                limit = self.contexts[key].node.policy.timeout
                self._attempt_failed(
                    key, TimeoutError(f"timed out after {limit:g}s"), time.perf_counter() - self.started[key]
                )

    # ------------------------------------------------------------------ starting
    def _node_of(self, key: str) -> str:
        return self.key_node.get(key, key)

    def _start(self, key: str) -> None:
        prepared = self.plan.nodes[self._node_of(key)]
        node = prepared.node
        for dep in prepared.deps:
            if self.status.get(dep) in ("failed", "blocked"):
                self._skip(key, f"upstream node '{dep}' failed", upstream=dep)
                return
        node_id = self.prefix + key
        attributes = dict(prepared.attributes)
        attributes[conv.RUN_ID] = self.run.run_id
        attributes[conv.NODE_ID] = self.prefix + key
        attributes[conv.ATTEMPT] = 1
        if self.run.session_id:
            attributes[conv.CONVERSATION] = self.run.session_id
        span = self.run.tracer.start_span(prepared.span_name, context=self.parent_ctx, attributes=attributes)
        _, sid = span_ids(span)
        ctx = NodeContext(self.run, node, node_id, 1, span, sid)
        self.contexts[key] = ctx
        self.attempt[key] = 1
        ctx.emit(NodeStarted(kind=node.kind, attempt=1))
        try:
            self.inputs[key] = self._resolve_inputs(node.inputs)
        except AgentcoreError as exc:
            self.started[key] = time.perf_counter()
            self._attempt_failed(key, exc, 0.0, retryable=False)
            return
        self._dispatch(key)

    def _resolve_inputs(self, sources: dict[str, str]) -> dict[str, Any]:
        resolved = {}
        for param, source in sources.items():
            head, _, key = source.partition(".")
            value = self.input if head == "$input" else self.outputs.get(head)
            if key:
                if not isinstance(value, dict) or key not in value:
                    what = "the run input" if head == "$input" else f"the output of '{head}'"
                    raise AgentcoreError(f"input '{param}': {what} has no key '{key}'")
                value = value[key]
            resolved[param] = value
        return resolved

    def _dispatch(self, key: str) -> None:
        prepared = self.plan.nodes[self._node_of(key)]
        ctx = self.contexts[key]
        token = next(_tokens)
        self.inflight[key] = token
        self.started[key] = time.perf_counter()
        try:
            for hook in self.rt.hooks:
                hook.node_started(ctx)
        except Exception as exc:
            del self.inflight[key]
            self._attempt_failed(key, exc, 0.0, retryable=False)
            return
        body = prepared.body
        inputs = self.inputs[key]
        timeout = ctx.node.policy.timeout
        if body.is_async:
            self.futures[key] = future = self.rt._loop.submit(self._ainvoke(key, token, ctx, inputs))
            future.add_done_callback(functools.partial(self._async_done, key, token))
        elif (
            timeout is None
            and not self.ready
            and not self.inflight.keys() - {key}
            and not self.retrying
            and self.rt.remote is None
        ):
            self._complete(*self._invoke(key, token, ctx, inputs, inline=True))
            return
        else:

            def task() -> None:
                self.completions.put(self._invoke(key, token, ctx, inputs))

            self.rt._pool.submit(task)
        if timeout is not None:
            heapq.heappush(self.timers, (time.monotonic() + timeout, token, "timeout", key, token))

    def _invoke(
        self, key: str, token: int, ctx: NodeContext, inputs: dict[str, Any], inline: bool = False
    ) -> tuple[str, int, bool, Any, BaseException | None, float]:
        prepared = self.plan.nodes[self._node_of(key)]
        body = prepared.body
        t0 = time.perf_counter()
        attached = otel_context.attach(trace.set_span_in_context(ctx.span))
        current = enter_node(ctx)
        try:
            remote = self.rt.remote.function_for(prepared) if self.rt.remote is not None else None
            if remote is not None:  # only the call crosses: events and spans stay in this process
                value = self.rt.remote.call(remote, inputs, ctx)
            else:
                value = drain_output(ctx, body.call(ctx, inputs))
            return key, token, True, value, None, time.perf_counter() - t0
        except Exception as exc:
            return key, token, False, None, exc, time.perf_counter() - t0
        finally:
            leave_node(current)
            otel_context.detach(attached)

    async def _ainvoke(self, key: str, token: int, ctx: NodeContext, inputs: dict[str, Any]) -> Any:
        attached = otel_context.attach(trace.set_span_in_context(ctx.span))
        current = enter_node(ctx)
        try:
            return await self.plan.nodes[self._node_of(key)].body.call(ctx, inputs)
        finally:
            leave_node(current)
            otel_context.detach(attached)

    def _async_done(self, key: str, token: int, future: Future[Any]) -> None:
        duration = time.perf_counter() - self.started.get(key, time.perf_counter())
        if future.cancelled():
            return  # a timeout already failed this attempt
        exc = future.exception()
        if exc is None:
            self.completions.put((key, token, True, future.result(), None, duration))
        else:
            self.completions.put((key, token, False, None, exc, duration))

    # ------------------------------------------------------------------ finishing
    def _complete(
        self, key: str, token: int, ok: bool, value: Any, error: BaseException | None, duration: float
    ) -> None:
        if self.inflight.get(key) != token:
            return  # an abandoned attempt (timed out) finished late: ignore it
        del self.inflight[key]
        self.futures.pop(key, None)
        ctx = self.contexts[key]
        for hook in self.rt.hooks:
            try:
                hook.node_finished(ctx, ok, value, error)
            except Exception:
                pass
        retryable = True
        if ok:
            try:
                encoded = encode_value(value, what=f"output of node '{ctx.node.name}'")
                namespace = self._namespace_snapshot(key)
            except SerializationError as exc:
                ok, error, retryable = False, exc, False
        if not ok:
            assert error is not None
            # an error may say a retry cannot help (a refused permission): ``retryable = False``
            retryable = retryable and getattr(error, "retryable", True) is not False
            self._attempt_failed(key, error, duration, retryable=retryable)
            return
        self.status[key] = "succeeded"
        self.outputs[key] = value
        self.encoded[key] = (encoded, namespace)
        ctx.emit(
            NodeSucceeded(
                kind=ctx.node.kind,
                attempt=ctx.attempt,
                output=encoded,
                namespace=namespace,
                duration_ms=duration * 1000.0,
            )
        )
        ctx.span.end()
        self._finished(key)

    def _namespace_snapshot(self, key: str) -> dict[str, Any]:
        prepared = self.plan.nodes[self._node_of(key)]
        if not prepared.is_code or not self.rt.save_namespace:
            return {}
        ns = self.run.namespace
        snapshot = {}
        for name in prepared.body.defines:
            if name in ns:
                try:
                    snapshot[name] = encode_value(ns[name])
                except SerializationError:
                    snapshot[name] = {_UNSAVED: type(ns[name]).__name__}
        return snapshot

    def _attempt_failed(
        self, key: str, error: BaseException, duration: float, retryable: bool = True
    ) -> None:
        ctx = self.contexts[key]
        outcome = attempt_failed(ctx, error, duration, self.rt.rng, retryable=retryable)
        if outcome.action == "retry":
            self.attempt[key] = ctx.attempt + 1
            self.retrying += 1
            heapq.heappush(self.timers, (time.monotonic() + outcome.delay, next(_tokens), "retry", key, 0))
        elif outcome.action == "fallback":
            self._reroute(key, outcome.fallback, outcome.error)
        elif outcome.action == "skip":
            self._skip(key, f"failed ({outcome.error}); on_error=skip")
        else:
            self.status[key] = "failed"
            self.errors[key] = outcome.error
            self._finished(key)

    def _reroute(self, key: str, fallback: str, message: str) -> None:
        """The node failed for good (``NodeRerouted`` recorded): its fallback runs in its place."""
        self.status[key] = "rerouted"
        self.errors[key] = message
        fb_key = (
            fallback if fallback not in self.status and fallback not in self.contexts else f"{fallback}~{key}"
        )
        self.key_node[fb_key] = fallback
        self.standin[fb_key] = key
        self._start(fb_key)

    def _skip(self, key: str, reason: str, upstream: str = "") -> None:
        """Skip by policy (dependents run with None) or block after an upstream failure (they skip too)."""
        self.status[key] = "blocked" if upstream else "skipped"
        self.outputs[key] = None
        self.run.emit(NodeSkipped(reason=reason, upstream=upstream), node_id=self.prefix + key)
        self._finished(key)

    def _finished(self, key: str) -> None:
        while key in self.standin:
            original = self.standin.pop(key)
            status = self.status[key]
            self.status[original] = status
            self.outputs[original] = self.outputs.get(key)
            ctx = self.contexts[original]
            if status == "succeeded":
                encoded, _ = self.encoded[key]
                self.errors.pop(original, None)
                ctx.emit(NodeSucceeded(kind=ctx.node.kind, attempt=ctx.attempt, output=encoded, via=key))
                self.encoded[original] = self.encoded[key]
            elif status in ("skipped", "blocked"):
                self.run.emit(NodeSkipped(reason=f"fallback '{key}' was skipped"), node_id=ctx.node_id)
            else:
                self.errors[original] = f"{self.errors.get(original, '')}; fallback '{key}' failed: " + (
                    self.errors.get(key, "")
                )
            key = original
        self.open -= 1
        for dependent in self.plan.nodes[key].dependents:
            if dependent in self.members:
                self.remaining[dependent] -= 1
                if self.remaining[dependent] == 0:
                    self.ready.append(dependent)

    def _cancel(self) -> None:
        """Interrupted (KeyboardInterrupt): fail what is in flight and stop."""
        for key in list(self.inflight):
            ctx = self.contexts[key]
            future = self.futures.pop(key, None)
            if future is not None:
                future.cancel()
            ctx.emit(
                NodeFailed(
                    kind=ctx.node.kind,
                    attempt=ctx.attempt,
                    error_type="Cancelled",
                    error="run was interrupted",
                    final=True,
                )
            )
            ctx.span.set_status(Status(StatusCode.ERROR, "cancelled"))
            ctx.span.end()
            self.status[key] = "failed"
            self.errors[key] = "cancelled"
        self.inflight.clear()
        self.timers.clear()

    # ------------------------------------------------------------------ results
    def failed_nodes(self) -> list[str]:
        return [k for k, s in self.status.items() if s == "failed" and k in self.members]
