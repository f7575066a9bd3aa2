"""The one runner of a cell: every execution is a node execution of the session's notebook run.

IPython still runs the code (``run_ast_nodes``, on the kernel's main thread, in the user
namespace): display, widgets, ``input()``, interrupt, the debugger and tracebacks are the stock
kernel's. Around it, the runner opens the node (span, ``NodeStarted``, identity token, the node
made current so every event a magic or component writes carries the cell's ids) and applies the
cell's ``%%node`` policy: ``--timeout`` (:mod:`.deadline`), ``--retries`` with backoff (an attempt
that will be retried shows one line instead of a traceback), ``--fallback`` (the other cell's code
runs in its place). A cell without a policy runs once, as in the stock kernel.

``%graph run`` runs the same nodes through the same runtime, as a child run of the cell that
started it (see :mod:`.graphrun`).
"""

from __future__ import annotations

import ast
import asyncio
import atexit
import hashlib
import sys
import time
import weakref
from collections.abc import Awaitable, Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..observability import conventions as conv
from .deadline import CellTimeout, deadline

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ..graph.policy import Policy
    from ..runtime.live import LiveNode, LiveRun
    from .session import NotebookSession

#: A cell's span is ``execute_node <name>`` whatever its kind: the cell runs code; the tool call,
#: agent run or memory search inside it opens its own span (``execute_tool ...``), a child of this one.
CELL_OPERATION = conv.EXECUTE_NODE

Execute = Callable[[list[ast.stmt], str], Awaitable[bool]]


@dataclass(slots=True)
class CellSpec:
    """What the runner needs about one cell execution."""

    name: str
    kind: str
    policy: Policy
    cell_id: str | None = None
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def node(self) -> Any:
        from ..graph.spec import Node

        meta = {"source_hash": source_hash(self.source), **self.metadata}
        if self.cell_id:
            meta["cell_id"] = self.cell_id
        return Node(self.name, kind=self.kind, policy=self.policy, metadata=meta)


@lru_cache(maxsize=256)
def source_hash(source: str) -> str:
    """The cell's source hash (cached: a re-run cell is not hashed again)."""
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:16]


_DISPLAY = ("showtraceback", "CustomTB")


class _Deferred:
    """Holds back the traceback of an attempt that may be retried or replaced by its fallback."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.shown: list[tuple[str, Any, dict[str, Any]]] = []

    @contextmanager
    def active(self, on: bool) -> Iterator[None]:
        if not on:
            yield
            return
        shell = self.shell
        self.shown = []

        def showtraceback(exc_tuple: Any = None, *args: Any, **kwargs: Any) -> None:
            self.shown.append(("showtraceback", exc_tuple or sys.exc_info(), kwargs))

        def custom_tb(etype: Any, value: Any, tb: Any, tb_offset: Any = None) -> None:
            self.shown.append(("CustomTB", (etype, value, tb), {}))

        saved = {k: shell.__dict__[k] for k in _DISPLAY if k in shell.__dict__}
        shell.showtraceback, shell.CustomTB = showtraceback, custom_tb
        try:
            yield
        finally:
            for key in _DISPLAY:
                if key in saved:
                    setattr(shell, key, saved[key])
                else:
                    shell.__dict__.pop(key, None)

    def replay(self) -> None:
        for name, exc, kwargs in self.shown:
            if name == "CustomTB":
                self.shell.CustomTB(*exc)
            else:
                self.shell.showtraceback(exc, **{k: v for k, v in kwargs.items() if k != "exc_tuple"})
        self.shown = []


class CellRunner:
    """Owns the session's notebook run and runs each cell execution as one of its nodes."""

    def __init__(self, session: NotebookSession, shell: Any) -> None:
        self.session = session
        self.shell = shell
        self._live: LiveRun | None = None
        self.closed_on_start: list[str] = []
        self.overhead = 0.0
        self._in_cell = 0.0
        self._warned = False
        #: Work a cell left to do after its reply (its ``NodeSucceeded``, span end, graph update):
        #: in a kernel it runs from the event loop once the reply and the idle status are out (in
        #: the AgentCore kernel once the IOPub thread has sent the idle status: ``after_idle``), and
        #: always before the next cell, a comm request, the run's end or the process's exit.
        self._later: list[Callable[[], None]] = []
        self._scheduled = False
        self._later_failed = False
        #: Told how long each drain took (the tracker adds it to the cell's bookkeeping time).
        self.on_drained: Callable[[float], None] | None = None
        #: Whether deferring is possible: only in a kernel (an event loop sends the reply); a plain
        #: IPython shell records everything before ``run_cell`` returns.
        self.deferring = getattr(shell, "kernel", None) is not None
        ref = weakref.ref(self)

        def at_exit() -> None:  # a clean shutdown ends the run; a killed kernel's is closed later
            runner = ref()
            if runner is not None:
                runner.close()

        self._atexit = at_exit
        atexit.register(at_exit)

    @property
    def live(self) -> LiveRun:
        """The notebook run, opened with the first cell (runs a dead kernel left open are closed)."""
        if self._live is None or self._live.closed:
            from ..runtime.live import LiveRun, close_interrupted

            runtime = self._runtime()
            if runtime.log.durable:
                self.closed_on_start = close_interrupted(runtime.log, "notebook")
            self._live = LiveRun(
                runtime,
                self.session.cells.graph.name,
                kind="notebook",
                session_id=self.session.session_id,
                run_id=self.session.run_id,
                metadata={"source": "notebook"},
                node_hooks=False,  # cells act as the notebook's owner: no token minted per cell
            )
        return self._live

    def _runtime(self) -> Any:
        """The project's runtime; when another process holds the project's database, a private
        in-memory one (the cells still run, their events are not kept), said once."""
        from ..errors import EventLogError

        try:
            return self.session.project.runtime()
        except EventLogError as exc:
            from ..runtime.runtime import Runtime

            sys.stderr.write(f"agentcore: this session's cells are not logged durably: {exc}\n")
            return Runtime()

    @property
    def opened(self) -> bool:
        return self._live is not None and not self._live.closed

    # ------------------------------------------------------------------ after the reply
    def later(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` after the cell's reply (in a kernel), else now."""
        loop = None
        if self.deferring:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        if loop is None:
            fn()
            return
        self._later.append(fn)
        if not self._scheduled:
            self._scheduled = True
            after_idle = getattr(self.shell.kernel, "after_idle", None)  # the AgentCore kernel's
            if after_idle is None or not after_idle(self.drain):
                loop.call_soon(self.drain)

    def drain(self) -> None:
        """Do what the last cell left for after its reply (nothing is dropped, in order)."""
        self._scheduled = False
        if not self._later:
            return
        t0 = time.perf_counter()
        interrupted: KeyboardInterrupt | None = None
        while self._later:
            fn = self._later.pop(0)
            try:
                fn()
            except KeyboardInterrupt as exc:  # finish the rest, then let the interrupt through
                interrupted = exc
            except Exception as exc:  # never lose the rest; say it once
                if not self._later_failed:
                    self._later_failed = True
                    sys.stderr.write(
                        f"agentcore: a cell's bookkeeping failed ({type(exc).__name__}: {exc})\n"
                    )
        if self.on_drained is not None:
            self.on_drained(time.perf_counter() - t0)
        if interrupted is not None:
            raise interrupted

    def close(self) -> None:
        try:
            self.drain()  # the last cell's success first: the run's end must not abandon it
        finally:
            atexit.unregister(self._atexit)
            if self._live is not None and not self._live.closed:
                try:
                    self._live.close("succeeded")
                except Exception:
                    pass

    # ------------------------------------------------------------------ running
    async def run(
        self, spec: CellSpec, nodelist: list[ast.stmt], cell_name: str, execute: Execute, result: Any
    ) -> bool:
        """Run the cell as a node (its policy applied); True when it finally failed (as IPython's
        ``run_ast_nodes`` answers)."""
        self.drain()
        t0 = time.perf_counter()
        self._in_cell = 0.0
        try:
            current = self.live.node(spec.node(), operation=CELL_OPERATION)
        except Exception as exc:  # the engine is unusable here: the cell still runs, as stock
            if not self._warned:
                self._warned = True
                sys.stderr.write(f"agentcore: cells run without the engine in this session ({exc})\n")
            return await execute(nodelist, cell_name)

        async def timed(nodes: list[ast.stmt], name: str) -> bool:
            start = time.perf_counter()
            try:
                return await execute(nodes, name)
            finally:
                self._in_cell += time.perf_counter() - start

        try:
            failed, _ = await self._attempts(current, spec, nodelist, cell_name, timed, result, set())
        except KeyboardInterrupt as exc:  # it landed in the node's bookkeeping, not in the cell's code
            current.abandon("interrupted")
            failed = result.error_in_exec or result.error_before_exec
            if failed is None:
                failed = exc
                self.shell.showtraceback((type(exc), exc, exc.__traceback__))
        finally:
            #: Seconds the last cell spent in the runner itself (events, span, hooks), not in its code.
            self.overhead = time.perf_counter() - t0 - self._in_cell
        if failed is None:
            result.error_in_exec = None
            return False
        result.error_in_exec = failed
        return True

    async def _attempts(
        self,
        current: LiveNode,
        spec: CellSpec,
        nodelist: list[ast.stmt],
        cell_name: str,
        execute: Execute,
        result: Any,
        visited: set[str],
    ) -> tuple[BaseException | None, Any]:
        policy = spec.policy
        deferred = _Deferred(self.shell)
        hold = policy.retries > 0 or bool(policy.fallback)
        while True:
            result.error_in_exec = None
            result.error_before_exec = None
            try:
                current.start()
            except Exception as exc:  # a hook refused the node (identity): nothing ran
                current.failed(exc, retryable=False, reroute=False)
                self.shell.showtraceback((type(exc), exc, exc.__traceback__))
                return exc, None
            try:
                with deferred.active(hold), deadline(spec.name, policy.timeout):
                    await execute(nodelist, cell_name)
            except (KeyboardInterrupt, CellTimeout) as exc:  # outside the cell's code
                result.error_in_exec = exc
            error = result.error_in_exec or result.error_before_exec
            if error is None:
                value = result.result
                current.succeeded(value, later=self.later)
                return None, value
            stopped = isinstance(error, KeyboardInterrupt)  # the user's interrupt ends everything
            outcome = current.failed(error, retryable=not stopped, reroute=not stopped)
            if outcome.action == "retry":
                attempt = current.attempt
                sys.stderr.write(
                    f"agentcore: {spec.name} attempt {attempt} failed ({outcome.error}); "
                    f"retrying in {outcome.delay:.2f}s\n"
                )
                try:
                    time.sleep(outcome.delay)
                except KeyboardInterrupt as exc:
                    current.abandon("interrupted while waiting to retry")
                    self.shell.showtraceback((type(exc), exc, exc.__traceback__))
                    return exc, None
                continue
            if outcome.action == "fallback":
                fb = outcome.fallback
                found = await self._fallback(fb, spec, cell_name, execute, result, visited | {spec.name})
                if found is not None:
                    fb_error, fb_value = found
                    if fb_error is None:
                        sys.stderr.write(
                            f"agentcore: {spec.name} failed ({outcome.error}); ran {fb} instead\n"
                        )
                        current.succeeded_via(fb, fb_value)
                        return None, fb_value
                    current.fallback_failed()
                    return fb_error, None
                current.fallback_failed()
                sys.stderr.write(
                    f"agentcore: {spec.name} has no fallback cell '{fb}' to run (run that cell once)\n"
                )
            deferred.replay()
            return error, None

    async def _fallback(
        self, name: str, origin: CellSpec, cell_name: str, execute: Execute, result: Any, visited: set[str]
    ) -> tuple[BaseException | None, Any] | None:
        cell = self.session.cells.cells.get(name)
        if cell is None or name in visited:
            return None
        shell = self.shell
        code = shell.transform_cell(cell.source)
        fb_name = shell.compile.cache(code, shell.execution_count, raw_code=cell.source)
        tree = shell.transform_ast(shell.compile.ast_parse(code, filename=fb_name))
        spec = CellSpec(
            name, cell.kind, cell.policy, cell.cell_id, cell.source, {"fallback_for": origin.name}
        )
        node = self.live.node(spec.node(), operation=CELL_OPERATION)
        return await self._attempts(node, spec, tree.body, fb_name, execute, result, visited)


__all__ = ["CellRunner", "CellSpec", "CellTimeout", "source_hash"]
