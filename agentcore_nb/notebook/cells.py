"""What one executed cell is, as a graph node: its ``%%node`` header, kind, and the names it uses.

Everything here is pure (no IPython): the tracker feeds it the raw cell and the AST IPython already
parsed, and caches the result by source, so re-running a cell costs a dictionary lookup.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from ..errors import AgentcoreError
from ..graph.analysis import CellNames, analyze
from ..graph.policy import Policy
from .magics.framework import MAGICS
from .magics.node import check_node_args, node_magic

HEADER = "%%node"
#: IPython's calls for magics and shell escapes in transformed cells.
_MAGIC_CALLS = {"run_line_magic": "line", "run_cell_magic": "cell", "system": "shell", "getoutput": "shell"}
#: IPython cell magics that run their body as Python in the user namespace (the cell is code).
CODE_CELL_MAGICS = frozenset({"time", "capture", "prun"})
#: Names IPython itself provides; reading them is not a dependency on another cell.
IPYTHON_NAMES = frozenset({"get_ipython", "display", "In", "Out", "exit", "quit"})


@dataclass(frozen=True, slots=True)
class NodeHeader:
    """A parsed ``%%node NAME [--retries N] [--timeout S] [--fallback OTHER]`` first line."""

    name: str
    retries: int = 0
    timeout: float | None = None
    fallback: str | None = None

    def policy(self) -> Policy:
        return Policy(retries=self.retries, timeout=self.timeout, fallback=self.fallback)


def split_header(source: str) -> tuple[str, str] | None:
    """``(header arguments, body)`` when the cell's first non-blank line is ``%%node ...``."""
    start = 0
    n = len(source)
    while start < n:
        end = source.find("\n", start)
        if end < 0:
            end = n
        line = source[start:end]
        if line.strip():
            stripped = line.strip()
            if stripped == HEADER or stripped.startswith(HEADER + " ") or stripped.startswith(HEADER + "\t"):
                return stripped[len(HEADER) :].strip(), source[end + 1 :]
            return None
        start = end + 1
    return None


def parse_header(source: str) -> NodeHeader | None:
    """The cell's ``%%node`` header, or None. Raises :class:`AgentcoreError` when it is malformed."""
    split = split_header(source)
    if split is None:
        return None
    if _asks_help(split[0]):
        raise AgentcoreError("%%node --help was asked for")  # the magic itself prints the help
    args = node_magic.parse(split[0])
    if args is None:  # --help
        raise AgentcoreError("%%node --help was asked for")
    check_node_args(args)
    return NodeHeader(args.name, args.retries, args.timeout, args.fallback)


def _asks_help(line: str) -> bool:
    return any(tok in ("-h", "--help") for tok in line.split())


def header_or_none(source: str) -> NodeHeader | None:
    try:
        return parse_header(source)
    except AgentcoreError:
        return None


def strip_header_lines(lines: list[str]) -> list[str]:
    """IPython cleanup transformer: drop a well-formed ``%%node`` first line, keep the body.

    A malformed header is left alone, so IPython runs the ``%%node`` magic, which reports it.
    Line numbers of the body are kept (the header becomes a blank line) unless the body itself
    starts with a cell magic, which must stay on the first line.
    """
    if not lines or not lines[0].lstrip().startswith(HEADER):
        return lines
    if header_or_none("".join(lines[:1])) is None:
        return lines
    body = lines[1:]
    first = next((ln for ln in body if ln.strip()), "")
    if first.lstrip().startswith("%%"):
        while body and not body[0].strip():
            body = body[1:]
        return body
    return ["\n", *body]


def _magic_call(stmt: ast.stmt) -> tuple[str, str] | None:
    """``(mode, name)`` when a statement is IPython's rewrite of a magic or ``!shell`` line."""
    if type(stmt) is not ast.Expr:
        return None
    call = stmt.value
    if type(call) is not ast.Call or type(call.func) is not ast.Attribute:
        return None
    mode = _MAGIC_CALLS.get(call.func.attr)
    owner = call.func.value
    if mode is None or type(owner) is not ast.Call or type(owner.func) is not ast.Name:
        return None
    if owner.func.id != "get_ipython":
        return None
    if mode == "shell":
        return mode, "!"
    first = call.args[0] if call.args else None
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return mode, first.value
    return None


def _cell_body(stmt: ast.stmt) -> ast.Module | None:
    """The parsed body of ``get_ipython().run_cell_magic(name, line, body)`` (None if not Python)."""
    args = stmt.value.args  # type: ignore[attr-defined]
    body = args[2] if len(args) > 2 else None
    if not (isinstance(body, ast.Constant) and isinstance(body.value, str)):
        return None
    try:
        return ast.parse(body.value)
    except SyntaxError:
        return None


@dataclass(frozen=True, slots=True)
class CellInfo:
    """What the tracker needs about a cell's source; cached by source."""

    header: NodeHeader | None
    kind: str
    is_node: bool
    names: CellNames
    code: str
    magics: tuple[str, ...] = ()


def classify(tree: ast.Module, code: str, header: NodeHeader | None) -> CellInfo:
    """Kind (the first magic with a node kind, else ``python``) and names of a parsed cell.

    A cell of only kindless magics and shell escapes (``%load_ext``, ``%graph``, ``!ls``) is not a
    node, unless ``%%node`` names it.
    """
    kind: str | None = None
    has_code = False
    magics: list[str] = []
    bodies: list[ast.stmt] = []
    for stmt in tree.body:
        found = _magic_call(stmt)
        if found is None:
            has_code = True
            continue
        magics.append(found[1])
        m = MAGICS.get(found[1])
        if kind is None and m is not None and m.kind:
            kind = m.kind
        if found[0] == "cell" and found[1] in CODE_CELL_MAGICS and m is None:
            inner = _cell_body(stmt)
            if inner is not None:
                has_code = True
                bodies.extend(inner.body)
    names = analyze(ast.Module(body=[*tree.body, *bodies], type_ignores=[]) if bodies else tree)
    if any(n in IPYTHON_NAMES for n in names.reads):
        names = CellNames(
            names.defines,
            tuple(n for n in names.reads if n not in IPYTHON_NAMES),
            names.deletes,
            names.builtins_read,
        )
    is_node = kind is not None or has_code or header is not None
    return CellInfo(header, kind or "python", is_node, names, code, tuple(magics))


@dataclass(slots=True)
class CellExecution:
    """One finished execution of a node cell, as the tracker hands it to the graph."""

    name: str
    source: str
    info: CellInfo
    ok: bool
    cell_id: str | None = None
    execution_count: int | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    error: str = ""
