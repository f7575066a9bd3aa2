"""Turns every executed cell into a node of the session's :class:`CellGraph` and runs it as a node
execution of the notebook run (:mod:`.cellrun`), through IPython hooks.

Hooks, all removed again on unload:

- ``pre_run_cell``: remember the cell (requests with ``store_history=False``, sent by tools rather
  than a person, are left alone); mark its node ``running``.
- a cleanup input transformer: strip a well-formed ``%%node`` header (the body runs as a plain cell).
- ``shell.run_ast_nodes`` (wrapped): classify the parsed cell (cached by source), name its node
  (a ``%%node`` name clash is refused before anything runs), and run it through the cell runner.
- ``post_run_cell``: record the node; graph notes (defined twice, stale now, cycle) go to the
  graph's listeners (widget, comm), and to stderr only with ``%agentcore warnings on``.
- automagic is turned off for this project's magics: a bare ``model`` is a NameError, as in a
  stock kernel.

Syntax errors keep IPython's own display. A cell that does not parse, or whose magic rejected its
arguments (any :class:`AgentcoreError`), leaves the graph unchanged. Other errors are the cell's
own failure: its node is ``failed``.
"""

from __future__ import annotations

import ast
import linecache
import re
import sys
import time
from collections import deque
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from ..errors import AgentcoreError
from .automagic import install_automagic_guard
from .cellrun import CellRunner, CellSpec
from .cells import (
    CellExecution,
    CellInfo,
    NodeHeader,
    classify,
    header_or_none,
    split_header,
    strip_header_lines,
)

if TYPE_CHECKING:
    from .session import NotebookSession

_CACHE_SIZE = 256
_IPYTHON_NAME = re.compile(r"^(_+|_i+\d*|_\d+|_[iod]h|__\w+__)$")


def one_line_syntax_error(value: BaseException) -> str:
    """``SyntaxError: invalid syntax (line 2: x = = 1)`` (for reports; cells show IPython's form)."""
    if not isinstance(value, SyntaxError):
        return f"{type(value).__name__}: {value}"
    where = f"line {value.lineno}" if value.lineno else ""
    text = (value.text or "").strip()
    if text:
        text = text if len(text) <= 60 else text[:57] + "..."
        where = f"{where}: {text}" if where else text
    return f"{type(value).__name__}: {value.msg}" + (f" ({where})" if where else "")


class CellTracker:
    def __init__(self, shell: Any, session: NotebookSession) -> None:
        self.shell = shell
        self.session = session
        self.cells = session.cells
        self.runner = CellRunner(session, shell)
        session.runner = self.runner
        self.runner.on_drained = self._drained
        self._cache: dict[str, CellInfo] = {}
        self._depth = 0
        self._info: Any = None
        self._cell: CellInfo | None = None
        self._name: str | None = None
        self._node_name: str | None = None
        self._previous_state: str | None = None
        self._inside = False
        self._t_pre = 0.0
        self._installed = False
        self._automagic: Any = None
        #: Seconds of bookkeeping per tracked cell (pre, classify, the node's events, span and hooks,
        #: post), newest last.
        self.timings: deque[float] = deque(maxlen=2000)
        hidden = set(getattr(shell, "user_ns_hidden", {}) or {})
        self._outside = frozenset(hidden)
        self.cells.outside = self.is_outside

    def is_outside(self, name: str) -> bool:
        """Defined outside the cells' visible code: IPython's names, magics' names, and names that
        exist although no cell defines them (``exec``, ``%run``, star imports, a deleted cell)."""
        return (
            name in self._outside
            or name in self.session.outside_names
            or _IPYTHON_NAME.match(name) is not None
            or name in self.shell.user_ns
        )

    # ------------------------------------------------------------------ install / uninstall
    def install(self) -> None:
        shell = self.shell
        shell.events.register("pre_run_cell", self.pre_run_cell)
        shell.events.register("post_run_cell", self.post_run_cell)
        shell.input_transformers_cleanup.append(strip_header_lines)
        original = type(shell).run_ast_nodes.__get__(shell)

        async def run_ast_nodes(
            nodelist: list[ast.stmt],
            cell_name: str,
            interactivity: str = "last_expr",
            compiler: Any = compile,
            result: Any = None,
        ) -> bool:
            info = self._info
            if info is None or self._inside or result is None or result.info is not info:
                return await original(nodelist, cell_name, interactivity, compiler, result)  # type: ignore[no-any-return]

            async def execute(nodes: list[ast.stmt], name: str) -> bool:
                return await original(nodes, name, interactivity, compiler, result)  # type: ignore[no-any-return]

            self._inside = True
            try:
                spec = self._prepare(nodelist, cell_name, result)
                if spec is None:
                    return True
                return await self.runner.run(spec, nodelist, cell_name, execute, result)
            except KeyboardInterrupt as exc:  # it landed in the bookkeeping, not the cell's code
                return _interrupted(self.shell, result, exc)
            finally:
                self._inside = False

        shell.run_ast_nodes = run_ast_nodes
        self._install_automagic_guard()
        self._installed = True

    def _install_automagic_guard(self) -> None:
        self._automagic = install_automagic_guard(self.shell)

    def uninstall(self) -> None:
        if not self._installed:
            return
        self._installed = False
        shell = self.shell
        for event, fn in (("pre_run_cell", self.pre_run_cell), ("post_run_cell", self.post_run_cell)):
            try:
                shell.events.unregister(event, fn)
            except ValueError:
                pass
        if strip_header_lines in shell.input_transformers_cleanup:
            shell.input_transformers_cleanup.remove(strip_header_lines)
        shell.__dict__.pop("run_ast_nodes", None)
        if self._automagic is not None:
            self._automagic.__dict__.pop("check", None)
            self._automagic = None
        self._info = None

    # ------------------------------------------------------------------ hooks
    def pre_run_cell(self, info: Any) -> None:
        self.runner.drain()  # the previous cell's bookkeeping, if the loop has not run it yet
        if not info.store_history or not self._installed:
            return  # a request from a tool (completion, inspection, a variable viewer): no node
        if self._depth == 0 or self._info is None or not self._inside:
            self._depth = 0  # not a run_cell from inside a tracked cell's code: a new cell
        self._depth += 1
        if self._depth != 1:
            return
        t0 = time.perf_counter()
        self._info = info
        self._cell = None
        self._name = None
        self._node_name = None
        self._previous_state = None
        raw = info.raw_cell
        cached = self._cache.get(raw)
        header = cached.header if cached is not None else (header_or_none(raw) if split_header(raw) else None)
        try:
            name = self.cells.identify(info.cell_id, raw, header)
        except AgentcoreError:
            name = None  # reported when the cell is about to run
        if name is not None and name in self.cells.cells:
            self._name = name
            self._previous_state = self.cells.cells[name].state
            self.cells.set_state(name, "running")
            self.cells.flush()
        self._t_pre = time.perf_counter() - t0

    def _prepare(self, nodelist: list[ast.stmt], cell_name: str, result: Any) -> CellSpec | None:
        """Classify and name the cell about to run; None (after showing why) when it must not run."""
        t0 = time.perf_counter()
        info = self._info
        raw = info.raw_cell
        cell = self._cache.get(raw)
        if cell is None:
            entry: Any = linecache.cache.get(cell_name)
            code = "".join(entry[2]) if entry is not None else self.shell.transform_cell(raw)
            header = header_or_none(raw) if split_header(raw) else None
            cell = classify(ast.Module(body=list(nodelist), type_ignores=[]), code, header)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[raw] = cell
        self._cell = cell
        policy = cell.header.policy() if cell.header is not None else None
        if cell.is_node:
            try:
                name = self.cells.name_for(info.cell_id, raw, cell.header)
            except AgentcoreError as exc:  # a %%node name clash: refused before anything runs
                self.shell.CustomTB(type(exc), exc, None)
                result.error_before_exec = exc
                return None
            self._node_name = name
            kind = cell.kind
        else:
            name = f"control-{info.cell_id or result.execution_count}"
            kind = "python"
        if policy is None:
            from ..graph.policy import Policy

            policy = Policy()
        spec = CellSpec(name, kind, policy, info.cell_id, raw, {} if cell.is_node else {"control": True})
        self._t_pre += time.perf_counter() - t0
        return spec

    def post_run_cell(self, result: Any) -> None:
        info = self._info
        if info is None or not self._installed:
            return
        if result is None or result.info is not info:
            if self._inside:
                return  # a run_cell from inside the tracked cell's code
            # IPython replaced the cell's result (ipykernel lost it): an interrupt escaped its own
            # machinery. The cell ends failed if it got that far, and the next cell is tracked.
            error = getattr(result, "error_in_exec", None) or KeyboardInterrupt()
            count = getattr(result, "execution_count", None)
            result = SimpleNamespace(error_before_exec=None, error_in_exec=error, execution_count=count)
        self._depth = max(0, self._depth - 1)
        t0 = time.perf_counter()
        self._info = None
        runner_time, self.runner.overhead = self.runner.overhead, 0.0
        notes = self.session.take_cell_notes()
        state = (self._cell, self._node_name, self._name, self._previous_state)
        self._previous_state = None

        def post() -> None:
            try:
                self._post(result, info, notes, *state)
            except Exception as exc:  # a tracking bug must not break the user's cell
                sys.stderr.write(f"agentcore: the graph was not updated for this cell ({_error_line(exc)})\n")

        try:
            if self.session.warnings or self.cells.listened:
                post()  # its notes go to the cell's stderr or a frontend: parented to its request
            else:
                self.runner.later(post)  # nobody waits for it: after the reply (before the next cell)
        finally:
            self.timings.append(self._t_pre + runner_time + time.perf_counter() - t0)

    def _drained(self, seconds: float) -> None:
        """Work done after the reply still counts as the cell's bookkeeping."""
        if self.timings:
            self.timings[-1] += seconds

    def _post(
        self,
        result: Any,
        info: Any,
        notes: dict[str, Any],
        cell: CellInfo | None,
        name: str | None,
        previous_name: str | None,
        previous_state: str | None,
    ) -> None:
        cells = self.cells
        deleted = (info.cell_meta or {}).get("deletedCells") if getattr(info, "cell_meta", None) else None
        if deleted:
            cells.remove_cell_ids(deleted)
        error = result.error_before_exec or result.error_in_exec
        if (
            result.error_before_exec is not None
            or isinstance(result.error_in_exec, AgentcoreError)
            or cell is None
            or not cell.is_node
            or name is None
        ):
            if previous_state is not None and previous_name in cells.cells:
                cells.set_state(previous_name, previous_state)  # not a node update: state as before
            cells.flush()
            return
        report = cells.record(
            CellExecution(
                name=name,
                source=info.raw_cell,
                info=cell,
                ok=error is None,
                cell_id=info.cell_id,
                execution_count=result.execution_count,
                notes=notes,
                error=_error_line(error) if error is not None else "",
            )
        )
        lines = list(report.warnings)
        if report.renamed_from:
            lines.append(f"node {report.renamed_from} is now {report.name}")
        if report.stale:
            lines.append(
                f"stale now: {', '.join(report.stale)} (re-run them, or %graph run --from {report.name})"
            )
        if lines:
            cells.announce({"op": "notes", "name": report.name, "notes": lines})
            if self.session.warnings:
                sys.stderr.write("".join(f"agentcore: {line}\n" for line in lines))
        cells.flush()


def _interrupted(shell: Any, result: Any, exc: KeyboardInterrupt) -> bool:
    """The cell was interrupted outside its code: shown and failed as if inside (IPython would
    otherwise replace its result, and the cell would be lost to the graph)."""
    if result.error_in_exec is None and result.error_before_exec is None:
        result.error_in_exec = exc
        shell.showtraceback((type(exc), exc, exc.__traceback__))
    return True


def _error_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


__all__ = ["CellTracker", "NodeHeader", "one_line_syntax_error"]
