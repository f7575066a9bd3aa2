"""Turns every executed cell into a node of the session's :class:`CellGraph`, through IPython hooks.

Hooks, all removed again on unload:

- ``pre_run_cell``: remember the cell; mark its node ``running``.
- a cleanup input transformer: strip a well-formed ``%%node`` header (the body runs as a plain cell).
- ``shell.compile.ast_parse`` (wrapped): keep the AST IPython parsed anyway, so analysis does not
  parse again; refuse a ``%%node`` name clash before anything runs (one error line).
- ``post_run_cell``: classify (cached by source), record the node, print warnings, publish changes.
- ``showsyntaxerror``: a cell that does not parse shows one line, not a caret diagram.

A cell that does not parse, or whose magic rejected its arguments (any :class:`AgentcoreError`),
leaves the graph unchanged. Other errors are the cell's own failure: its node is ``failed``.
"""

from __future__ import annotations

import ast
import re
import sys
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from ..errors import AgentcoreError
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
    """``SyntaxError: invalid syntax (line 2: x = = 1)``."""
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
        self._cache: dict[str, CellInfo] = {}
        self._depth = 0
        self._info: Any = None
        self._tree: ast.Module | None = None
        self._code: str | None = None
        self._name: str | None = None
        self._previous_state: str | None = None
        self._t_pre = 0.0
        self._installed = False
        self._original_ast_parse: Any = None
        #: Seconds of bookkeeping per tracked cell (pre + parse hook + post), newest last.
        self.timings: deque[float] = deque(maxlen=2000)
        hidden = set(getattr(shell, "user_ns_hidden", {}) or {})
        self._outside = frozenset(hidden)
        self.cells.outside = self.is_outside

    def is_outside(self, name: str) -> bool:
        return (
            name in self._outside
            or name in self.session.outside_names
            or _IPYTHON_NAME.match(name) is not None
        )

    # ------------------------------------------------------------------ install / uninstall
    def install(self) -> None:
        shell = self.shell
        shell.events.register("pre_run_cell", self.pre_run_cell)
        shell.events.register("post_run_cell", self.post_run_cell)
        shell.input_transformers_cleanup.append(strip_header_lines)
        compiler = shell.compile
        self._original_ast_parse = compiler.__dict__.get("ast_parse")
        original = compiler.ast_parse

        def ast_parse(source: str, filename: str = "<unknown>", symbol: str = "exec") -> ast.Module:
            tree = original(source, filename, symbol)
            if self._info is not None and self._tree is None and self._depth == 1:
                self._seen_parse(tree, source)
            return tree  # type: ignore[no-any-return]

        compiler.ast_parse = ast_parse
        shell.showsyntaxerror = self.show_syntax_error
        self._installed = True

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
        if self._original_ast_parse is not None:
            shell.compile.ast_parse = self._original_ast_parse
        else:
            shell.compile.__dict__.pop("ast_parse", None)
        shell.__dict__.pop("showsyntaxerror", None)
        self._info = None

    # ------------------------------------------------------------------ hooks
    def pre_run_cell(self, info: Any) -> None:
        if info.store_history:
            self._depth = 0  # a top-level cell: recover from any unbalanced nesting
        self._depth += 1
        if self._depth != 1 or not self._installed:
            return
        t0 = time.perf_counter()
        self._info = info
        self._tree = None
        self._code = None
        self._name = None
        self._previous_state = None
        raw = info.raw_cell
        cached = self._cache.get(raw)
        header = cached.header if cached is not None else (header_or_none(raw) if split_header(raw) else None)
        try:
            name = self.cells.identify(info.cell_id, raw, header)
        except AgentcoreError:
            name = None  # reported from the parse hook, before anything runs
        if name is not None and name in self.cells.cells:
            self._name = name
            self._previous_state = self.cells.cells[name].state
            self.cells.set_state(name, "running")
            self.cells.flush()
        self._t_pre = time.perf_counter() - t0

    def _seen_parse(self, tree: ast.Module, code: str) -> None:
        t0 = time.perf_counter()
        self._tree = tree
        self._code = code
        info = self._info
        raw = info.raw_cell
        cached = self._cache.get(raw)
        header = cached.header if cached is not None else (header_or_none(raw) if split_header(raw) else None)
        if header is not None:
            # raises NameClashError: IPython shows it as one line and runs nothing
            self.cells.identify(info.cell_id, raw, header)
        self._t_pre += time.perf_counter() - t0

    def post_run_cell(self, result: Any) -> None:
        self._depth = max(0, self._depth - 1)
        info = self._info
        if info is None or result.info is not info or not self._installed:
            return
        t0 = time.perf_counter()
        self._info = None
        try:
            self._post(result, info)
        except Exception as exc:  # a tracking bug must not break the user's cell
            sys.stderr.write(f"agentcore: the graph was not updated for this cell ({_error_line(exc)})\n")
        finally:
            self.timings.append(self._t_pre + time.perf_counter() - t0)
            # Let go of IPython's AST only now: freeing it is IPython's cost (the stock kernel pays
            # it too), not graph bookkeeping.
            self._tree = self._code = None

    def _post(self, result: Any, info: Any) -> None:
        cells = self.cells
        notes = self.session.take_cell_notes()
        deleted = (info.cell_meta or {}).get("deletedCells") if getattr(info, "cell_meta", None) else None
        if deleted:
            cells.remove_cell_ids(deleted)
        error = result.error_before_exec or result.error_in_exec
        if result.error_before_exec is not None or isinstance(result.error_in_exec, AgentcoreError):
            self._restore_running()
            cells.flush()
            return
        raw = info.raw_cell
        cell = self._cache.get(raw)
        if cell is None:
            cell = self._classify(raw)
            if cell is None:
                self._restore_running()
                cells.flush()
                return
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[raw] = cell
        if not cell.is_node:
            self._restore_running()
            cells.flush()
            return
        try:
            name = cells.name_for(info.cell_id, raw, cell.header)
        except AgentcoreError:
            self._restore_running()
            cells.flush()
            return
        report = cells.record(
            CellExecution(
                name=name,
                source=raw,
                info=cell,
                ok=error is None,
                cell_id=info.cell_id,
                execution_count=result.execution_count,
                notes=notes,
                error=_error_line(error) if error is not None else "",
            )
        )
        lines = [f"agentcore: {w}" for w in report.warnings]
        if report.renamed_from:
            lines.append(f"agentcore: node {report.renamed_from} is now {report.name}")
        if report.stale:
            lines.append(
                f"agentcore: stale now: {', '.join(report.stale)} "
                f"(re-run them, or %graph run --from {report.name})"
            )
        if lines:
            sys.stderr.write("\n".join(lines) + "\n")
        cells.flush()

    def _restore_running(self) -> None:
        """The cell did not become a node update: its node goes back to its state before the run."""
        if self._previous_state is not None and self._name in self.cells.cells:
            self.cells.set_state(self._name, self._previous_state)
        self._previous_state = None

    def _classify(self, raw: str) -> CellInfo | None:
        tree, code = self._tree, self._code
        if tree is None or code is None:
            try:
                code = self.shell.transform_cell(raw)
                tree = ast.parse(code)
            except (SyntaxError, ValueError):
                return None
        header = header_or_none(raw) if split_header(raw) else None
        return classify(tree, code, header)

    # ------------------------------------------------------------------ one-line syntax errors
    def show_syntax_error(self, filename: str | None = None, running_compiled_code: bool = False) -> None:
        shell = self.shell
        if running_compiled_code:
            type(shell).showsyntaxerror(shell, filename, running_compiled_code)
            return
        etype, value, _ = shell._get_exc_info()
        shell._showtraceback(etype, value, [one_line_syntax_error(value)])


def _error_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


__all__ = ["CellTracker", "NodeHeader", "one_line_syntax_error"]
