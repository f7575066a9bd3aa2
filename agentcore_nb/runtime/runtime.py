"""The runtime: runs graphs through the seed's lifecycle and resumes runs from the event log."""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from .._version import __version__
from ..errors import AgentcoreError, NodeError
from ..eventlog.base import EventLog
from ..eventlog.duckdb import DuckDBEventLog
from ..eventlog.memory import InMemoryEventLog
from ..events import (
    ContextFetched,
    Event,
    RunExecuted,
    RunProvisioned,
    RunResumed,
    RunVanished,
)
from ..graph.codec import graph_from_dict
from ..graph.spec import Graph, Node
from ..observability import conventions as conv
from ..values import PICKLE_KEY, decode_value, encode_value, summarize
from .context import CancelEvent, NodeContext, RunContext, span_ids
from .emitting import current_node
from .executors import Body
from .hooks import RunHook
from .plan import Plan
from .scheduler import Execution, error_line
from .session_state import SessionStates
from .workers import LoopThread, WorkerPool

DURABILITY = ("async", "sync")


@dataclass(slots=True)
class RunResult:
    run_id: str
    session_id: str
    graph_name: str
    status: str  # succeeded | failed | cancelled
    output: Any = None
    outputs: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    resumed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def raise_for_status(self) -> RunResult:
        """Raise :class:`NodeError` for the first failed node; returns self when the run succeeded."""
        if not self.ok:
            node, message = next(iter(self.errors.items()), ("?", f"run {self.status}"))
            raise NodeError(node, message)
        return self


class Runtime:
    """Runs graphs. One runtime can run many graphs, concurrently from several threads.

    ``log`` defaults to an in-memory log; pass a :class:`DuckDBEventLog` (or use
    :meth:`durable`) for runs that survive a crash. ``tracer_provider`` defaults to the global
    OpenTelemetry provider (a no-op unless the application configured one; this library never sets
    it). ``durability="sync"`` commits each node's completion before its dependents start;
    ``"async"`` (default) group-commits in the background and flushes before ``run`` returns.
    """

    def __init__(
        self,
        log: EventLog | None = None,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        hooks: Sequence[RunHook] = (),
        services: Mapping[str, Any] | None = None,
        max_workers: int = 128,
        durability: str = "async",
        save_namespace: bool = True,
        seed: int | None = None,
    ) -> None:
        if durability not in DURABILITY:
            raise AgentcoreError(f"durability must be one of {', '.join(DURABILITY)}, got {durability!r}")
        self.log = log if log is not None else InMemoryEventLog()
        provider = tracer_provider or trace.get_tracer_provider()
        self.tracer = provider.get_tracer("agentcore_nb", __version__)
        self.hooks: list[RunHook] = list(hooks)
        self.services: Mapping[str, Any] = services if services is not None else {}
        self.durability = durability
        self.save_namespace = save_namespace
        self.rng = random.Random(seed)
        self._pool = WorkerPool(max_workers)
        self._loop = LoopThread()
        #: Where eligible node bodies run instead of this process (``ray_backend.RayBackend``).
        self.remote: Any = None
        #: State of long-lived sub-agent sessions run locally (``session_state``).
        self.session_states = SessionStates()

    @classmethod
    def durable(cls, home: str | Path | None = None, **kwargs: Any) -> Runtime:
        """A runtime whose log is the project's DuckDB file (``$AGENTCORE_HOME`` or ``.agentcore/``)."""
        from ..home import database_path

        return cls(DuckDBEventLog(database_path(home)), **kwargs)

    def add_hook(self, hook: RunHook) -> None:
        self.hooks.append(hook)

    # ------------------------------------------------------------------ running
    def run(
        self,
        graph: Graph,
        input: Any = None,
        *,
        session_id: str | None = None,
        run_id: str | None = None,
        namespace: dict[str, Any] | None = None,
        only: Iterable[str] | None = None,
        given: dict[str, Any] | None = None,
        token: str | None = None,
        prepare: Callable[[Node], Body] | None = None,
        context: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
        cancel: threading.Event | None = None,
        flush: bool = True,
        plain_input: bool = False,
    ) -> RunResult:
        """Run ``graph`` on ``input`` and return when every node reached a final state.

        ``flush=False`` returns before the run's events are committed: they are appended (in
        ``seq`` order) and the log's writer commits them with other runs' events in one
        transaction; ``log.flush()`` (or closing the log) makes them durable. The HTTP service
        uses it and flushes when it drains (``docs/serve.md``, durability).

        ``context`` seeds the run's context (recorded in ``ContextFetched``; a served run puts its
        ``request`` there); ``state`` seeds its private state (a stream sink); setting ``cancel``
        cancels the run (streaming nodes stop between values; the run is recorded as cancelled).

        ``plain_input=True`` says ``input`` is plain JSON by construction (``json.loads`` gave it:
        str keys, no ``$pickle`` key... see :func:`.values.is_plain_json`): it is recorded as it
        is, without checking it again.

        ``token`` is the caller's identity token: with identity configured, every node gets a
        token narrowed from it (never logged).

        ``only`` restricts the run to some nodes; the others count as done, with outputs from
        ``given``. ``namespace`` is the dict code nodes execute in (a fresh one by default).
        ``prepare(node) -> Body`` replaces the executors of the kinds (the caller validated the
        graph's structure): a notebook's cells keep their kinds and run as the cells they are.
        """
        plan = Plan(graph, validate=False, prepare=prepare) if prepare is not None else Plan.for_graph(graph)
        only_set = set(only) if only is not None else None
        if only_set is not None:
            unknown = only_set - plan.nodes.keys()
            if unknown:
                raise AgentcoreError(f"graph '{graph.name}' has no node(s) {', '.join(sorted(unknown))}")
        run = self._new_run(plan.graph, input, session_id, run_id, namespace, cancel)
        if token is not None:
            run.state["identity.token"] = token
        if context:
            run.context.update(context)
        if state:
            run.state.update(state)
        run.emit(
            RunProvisioned(
                graph_name=graph.name,
                graph=plan.spec(),
                input=input if plain_input else _encode_input(input),
                parent_run_id=run.parent_run_id,
                parent_node_id=run.parent_node_id,
            )
        )
        done = {k: ("succeeded", v) for k, v in (given or {}).items()}
        return self._execute(run, plan, only_set, done, resumed=[], flush=flush)

    async def arun(self, graph: Graph, input: Any = None, **kwargs: Any) -> RunResult:
        """``run`` for async callers (runs the scheduler in a worker thread)."""
        return await asyncio.to_thread(self.run, graph, input, **kwargs)

    def _new_run(
        self,
        graph: Graph,
        input: Any,
        session_id: str | None,
        run_id: str | None,
        namespace: dict[str, Any] | None,
        cancel: threading.Event | None = None,
    ) -> RunContext:
        run_id = run_id or uuid.uuid4().hex
        session_id = session_id or run_id
        parent = current_node()  # a run started inside a node (an agent from a cell) is its child
        span = self.tracer.start_span(
            conv.span_name(conv.INVOKE_WORKFLOW, graph.name),
            attributes=conv.run_attributes(graph.name, run_id, session_id),
        )
        trace_id, span_id = span_ids(span)
        return RunContext(
            runtime=self,
            run_id=run_id,
            session_id=session_id,
            graph=graph,
            input=input,
            log=self.log,
            tracer=self.tracer,
            namespace=namespace if namespace is not None else {},
            services=self.services,
            span=span,
            trace_id=trace_id or _fallback_trace_id(run_id),
            span_id=span_id,
            parent_run_id=parent.run_id if parent is not None else "",
            parent_node_id=parent.node_id if parent is not None else "",
            cancel=cancel if cancel is not None else CancelEvent(),
        )

    def _execute(
        self,
        run: RunContext,
        plan: Plan,
        only: set[str] | None,
        done: dict[str, tuple[str, Any]],
        resumed: list[str],
        flush: bool = True,
    ) -> RunResult:
        t0 = time.perf_counter()
        execution: Execution | None = None
        status = "failed"
        error = ""
        try:
            for hook in self.hooks:
                hook.provision(run)
            for hook in self.hooks:
                found = hook.fetch_context(run)
                if found:
                    run.context[hook.name] = found
            run.emit(ContextFetched(context={k: summarize(v) for k, v in run.context.items()}))
            execution = Execution(
                self, run, plan, input=run.input, parent_span=run.span, only=only, done=done
            )
            execution.execute()
            if run.cancel.is_set():
                status, error = "cancelled", "cancelled: the client went away"
            else:
                status = "failed" if execution.failed_nodes() else "succeeded"
        except KeyboardInterrupt:
            status, error = "cancelled", "interrupted"
            raise
        except Exception as exc:
            error = error_line(exc)
            raise
        finally:
            result = self._finish(run, plan, execution, status, error, t0, resumed, flush)
        return result

    def _finish(
        self,
        run: RunContext,
        plan: Plan,
        execution: Execution | None,
        status: str,
        error: str,
        t0: float,
        resumed: list[str],
        flush: bool = True,
    ) -> RunResult:
        outputs = execution.outputs if execution else {}
        errors = dict(execution.errors) if execution else {}
        failed = execution.failed_nodes() if execution and errors else []
        out_node = plan.graph.output
        if out_node:
            output = outputs.get(out_node)
        else:
            output = {s: outputs.get(s) for s in plan.sinks if s in outputs}
        duration = (time.perf_counter() - t0) * 1000.0
        stored = execution.encoded.get(out_node) if execution and out_node else None
        if stored is not None and out_node and not plan.nodes[out_node].dependents:
            # the output node's NodeSucceeded encoding: nothing downstream of it could change it
            encoded_output = stored[0]
        else:
            try:
                encoded_output = encode_value(output, what="run output")
            except AgentcoreError:
                encoded_output = summarize(output)
        run.emit(
            RunExecuted(
                status=status,
                output=encoded_output,
                error=error or "; ".join(f"{k}: {errors[k]}" for k in failed),
                failed_nodes=failed,
                duration_ms=duration,
            )
        )
        for hook in self.hooks:
            try:
                hook.executed(run, status)
            except Exception:
                pass
        for hook in reversed(self.hooks):
            try:
                hook.vanish(run)
            except Exception:
                pass
        run.emit(RunVanished(duration_ms=(time.perf_counter() - t0) * 1000.0))
        if status != "succeeded":
            run.span.set_status(Status(StatusCode.ERROR, error or f"failed nodes: {', '.join(failed)}"))
        run.span.end()
        if flush:
            self.log.flush()
        skipped = [
            k for k, s in (execution.status.items() if execution else []) if s in ("skipped", "blocked")
        ]
        return RunResult(
            run_id=run.run_id,
            session_id=run.session_id,
            graph_name=plan.graph.name,
            status=status,
            output=output,
            outputs={k: v for k, v in outputs.items() if k in (execution.members if execution else ())},
            errors={k: errors[k] for k in errors if execution and k in execution.members},
            skipped=skipped,
            duration_ms=duration,
            resumed=resumed,
        )

    # ------------------------------------------------------------------ nested nodes
    def _run_children(self, parent: NodeContext, nodes: list[Node], input: Any) -> dict[str, Any]:
        graph = Graph(f"{parent.node.name}-children", nodes)
        plan = Plan(graph)
        execution = Execution(
            self,
            parent.run,
            plan,
            input=parent.run.input if input is None else input,
            parent_span=parent.span,
            prefix=parent.node_id + "/",
        )
        execution.execute()
        failed = execution.failed_nodes()
        if failed:
            first = failed[0]
            raise NodeError(f"{parent.node_id}/{first}", execution.errors.get(first, "failed"))
        return {k: execution.outputs.get(k) for k in plan.nodes}

    # ------------------------------------------------------------------ resume
    def resume(self, run_id: str) -> RunResult:
        """Continue a run that was interrupted or failed: committed successes are kept, failed and
        skipped nodes run again. A run that succeeded or was cancelled is final (its result is read
        back from the log)."""
        events = self.log.events(run_id)
        if not events:
            raise AgentcoreError(f"no run '{run_id}' in the event log")
        prov = next((e for e in events if isinstance(e, RunProvisioned)), None)
        if prov is None:
            raise AgentcoreError(f"run '{run_id}' has no RunProvisioned event; it cannot be resumed")
        finished = _finished_status(events)
        if not prov.graph:
            raise AgentcoreError(
                f"run '{run_id}' used in-process callables that were not saved with it; it cannot be resumed",
                hint="build graphs from importable functions or code nodes to make them resumable",
            )
        graph = graph_from_dict(prov.graph, source=f"run {run_id}")
        plan = Plan.for_graph(graph)
        if finished is not None:
            return _result_from_log(run_id, prov, events, finished)
        done, namespace, unsaved = _committed_state(events, plan)
        run = self._new_run(plan.graph, decode_value(prov.input), prov.session_id, run_id, namespace)
        committed = sorted(done)
        run.emit(RunResumed(committed=committed))
        if unsaved:
            run.span.set_attribute(conv.RESUME_UNSAVED, sorted(unsaved))
        return self._execute(run, plan, None, done, resumed=committed)

    def end_session(self, session_id: str) -> None:
        """Forget a session's sub-agent state (here, and its Ray actors): the session ended."""
        self.session_states.end(session_id)
        end = getattr(self.remote, "end_session", None)
        if end is not None:
            end(session_id)

    def close(self) -> None:
        self.session_states.clear()
        self._pool.shutdown()
        self._loop.shutdown()
        self.log.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fallback_trace_id(run_id: str) -> str:
    """Without a tracing SDK, events still need a trace id: the run id when it has that shape."""
    if len(run_id) == 32:
        try:
            int(run_id, 16)
            return run_id
        except ValueError:
            pass
    return format(random.getrandbits(128), "032x")


def _encode_input(value: Any) -> Any:
    try:
        return encode_value(value, what="run input")
    except AgentcoreError:
        return {"$unsaved": type(value).__name__}


#: Outcomes a resume does not reopen: success, and a cancellation the user asked for. A failure may
#: be passing (a module missing that time, a service down), so a failed run can be resumed again.
FINAL_STATUSES = ("succeeded", "cancelled")


def _finished_status(events: list[Event]) -> str | None:
    """The run's status when it is final, else None (interrupted, or failed: resumable)."""
    status = None
    for e in events:
        if isinstance(e, RunExecuted):
            status = e.status
        elif isinstance(e, RunResumed):
            status = None
    return status if status in FINAL_STATUSES else None


def _committed_state(
    events: list[Event], plan: Plan
) -> tuple[dict[str, tuple[str, Any]], dict[str, Any], set[str]]:
    done: dict[str, tuple[str, Any]] = {}
    namespace: dict[str, Any] = {}
    unsaved: set[str] = set()
    for e in events:
        if e.node_id not in plan.nodes or e.node_id in plan.standby:
            continue
        if e.type == "NodeSucceeded":
            done[e.node_id] = ("succeeded", decode_value(e.output))  # type: ignore[attr-defined]
            for name, value in e.namespace.items():  # type: ignore[attr-defined]
                if isinstance(value, dict) and "$unsaved" in value and PICKLE_KEY not in value:
                    unsaved.add(name)
                    namespace.pop(name, None)
                else:
                    namespace[name] = decode_value(value)
        elif e.type == "NodeSkipped" and not e.upstream:  # type: ignore[attr-defined]
            done[e.node_id] = ("skipped", None)
    return done, namespace, unsaved


def _result_from_log(run_id: str, prov: RunProvisioned, events: list[Event], status: str) -> RunResult:
    executed = [e for e in events if isinstance(e, RunExecuted)][-1]
    outputs = {
        e.node_id: decode_value(e.output)  # type: ignore[attr-defined]
        for e in events
        if e.type == "NodeSucceeded" and "/" not in e.node_id
    }
    errors = {
        e.node_id: e.error  # type: ignore[attr-defined]
        for e in events
        if e.type == "NodeFailed" and e.final and "/" not in e.node_id  # type: ignore[attr-defined]
    }
    return RunResult(
        run_id=run_id,
        session_id=prov.session_id,
        graph_name=prov.graph_name,
        status=status,
        output=decode_value(executed.output),
        outputs=outputs,
        errors={k: v for k, v in errors.items() if k in executed.failed_nodes},
        duration_ms=executed.duration_ms,
    )


__all__ = ["RunResult", "Runtime", "error_line"]
