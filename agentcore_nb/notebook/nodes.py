"""One cell's source -> one typed node (kind, complete config, names), with no kernel.

The export reads notebooks with this, and the magics build the config they record on the live
notebook graph with the same functions (:func:`tool_call_config`, :func:`memory_config`,
:func:`code_config`, :func:`reason_config`), so a cell says the same thing in both places.

A cell is one of:

- ``python``: plain code (a ``%%node`` header and ``%%time`` are allowed around it);
- a *step* of a node kind: ``%tool call`` (``tool``), ``%memory add|search|forget`` (``memory``),
  ``%%code`` (``code``), ``%%reason`` (``reason``), ``%agent NAME "..."`` (``agent``);
- a *definition*: ``%%tool`` (a tool), ``%%agent`` (an agent), ``%subagent``, ``%model SPEC``;
- a *view* that only shows something in the notebook (``%graph``, ``%memory stats``, ``%tool
  search``, ...): it is no node and an export leaves it out;
- refused for export, with the reason and the fix: shell escapes, kernel-state magics, Python mixed
  with magics, a syntax error.
"""

from __future__ import annotations

import ast
import json
import shlex
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..errors import AgentcoreError
from ..graph.analysis import analyze
from .cells import IPYTHON_NAMES, parse_header, split_header

#: Magics that change the kernel's state or the machine (no graph can reproduce them).
KERNEL_STATE = frozenset(
    {
        "cd", "pushd", "popd", "pip", "conda", "mamba", "run", "env", "set_env", "load_ext",
        "reload_ext", "unload_ext", "reset", "reset_selective", "store", "autoreload", "aimport",
        "sx", "system", "bash", "sh", "script", "writefile", "file", "load", "macro", "alias",
        "unalias", "rehashx", "xdel", "bookmark", "dhist", "capture", "prun", "debug", "pdb",
        "killbgscripts", "perl", "ruby", "python2", "python3", "pypy", "javascript", "js", "html",
        "latex", "markdown", "svg",
    }
)  # fmt: skip
#: Magics that only show or configure the notebook view: left out of an export.
VIEWS = frozenset(
    {
        "graph", "agentcore", "export", "matplotlib", "who", "whos", "who_ls", "lsmagic", "config",
        "pinfo", "pinfo2", "psearch", "history", "pwd", "ls", "timeit", "magic", "page", "precision",
        "pprint", "colors", "xmode", "doctest_mode", "automagic", "quickref", "notebook",
    }
)  # fmt: skip
#: Cell magics whose body is Python run in the user namespace (the cell is code).
CODE_BODY = frozenset({"time"})
#: Where the value a step defines comes from in its node's output (``None``: the whole output).
RESULT_KEY = {"reason": "text"}


class CellParseError(AgentcoreError):
    """A cell cannot become a node; ``fix`` says what to change."""

    def __init__(self, reason: str, fix: str) -> None:
        self.reason = reason
        self.fix = fix
        super().__init__(reason, hint=fix)


@dataclass(slots=True)
class CellNode:
    """What one cell is as a node. ``role``: python | step | definition | view."""

    role: str
    kind: str = "python"
    config: dict[str, Any] = field(default_factory=dict)
    defines: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    #: ``%%node`` header: (name, retries, timeout, fallback) or None.
    name: str | None = None
    policy: dict[str, Any] = field(default_factory=dict)
    #: Python code (python cells), after the ``%%node`` header and ``%%time`` are taken off.
    code: str = ""
    #: For definitions: what they define (``tool``, ``agent``, ``subagent``, ``model``).
    defines_kind: str = ""


# ---------------------------------------------------------------------------- config builders


def tool_call_config(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """``%tool call NAME JSON``: a ``tool`` node."""
    return {"tool": tool, "arguments": dict(arguments)}


def memory_config(args: Any) -> dict[str, Any]:
    """``%memory add|search|forget``: a ``memory`` node (from the magic's parsed arguments)."""
    sub = args.subcommand
    if sub == "add":
        cfg: dict[str, Any] = {"op": "add", "text": " ".join(args.text), "namespace": args.namespace}
        meta = _json_object(args.metadata, "--metadata")
        if meta is not None:
            cfg["metadata"] = meta
        return cfg
    if sub == "search":
        cfg = {"op": "search", "query": " ".join(args.query), "k": args.k}
        if args.namespace is not None:
            cfg["namespace"] = args.namespace
        filters = _json_object(args.filter, "--filter")
        if filters is not None:
            cfg["filters"] = filters
        return cfg
    if sub == "forget":
        return {"op": "forget", "id": args.id}
    return {"op": sub}


def mesh_config(args: Any, payload: Any) -> dict[str, Any]:
    """``%mesh send|request``: a ``mesh`` node (publish, or request and wait for the reply)."""
    cfg: dict[str, Any] = {"topic": args.topic, "mode": "publish" if args.subcommand == "send" else "request"}
    if payload is not None:
        cfg["payload"] = payload
    if args.key:
        cfg["key"] = args.key
    if args.subcommand == "request":
        cfg["timeout"] = args.timeout
    return cfg


def code_config(args: Any, source: str) -> dict[str, Any]:
    """``%%code``: a ``code`` node. Without ``--session`` the run's session is used."""
    cfg: dict[str, Any] = {"code": source, "language": args.lang}
    if args.session:
        cfg["session"] = args.session
    if args.timeout is not None:
        cfg["timeout"] = args.timeout
    if args.allow_net:
        cfg["allow_net"] = list(args.allow_net)
    if args.clear:
        cfg["clear_context"] = True
    return cfg


def reason_config(args: Any, template: str) -> dict[str, Any]:
    """``%%reason``: a ``reason`` node whose prompt is the cell body."""
    cfg: dict[str, Any] = {"prompt": template.strip()}
    if args.model:
        cfg["model"] = args.model
    if args.system:
        cfg["system"] = args.system
    if args.max_tokens:
        cfg["max_tokens"] = args.max_tokens
    return cfg


def template_fields(template: str) -> tuple[str, ...]:
    """The ``{name}`` fields of a ``%%reason`` prompt, in order (each is an edge to a variable)."""
    from ..models.executor import _PLACEHOLDER

    return tuple(dict.fromkeys(m.group(1) for m in _PLACEHOLDER.finditer(template)))


def _json_object(text: str | None, what: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        found = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CellParseError(f"{what} is not JSON: {exc.msg}", 'e.g. \'{"kind": "refund"}\'') from None
    if not isinstance(found, dict):
        raise CellParseError(f"{what} must be a JSON object", 'e.g. \'{"kind": "refund"}\'')
    return found


# ---------------------------------------------------------------------------- parsing


@lru_cache(maxsize=1)
def _transformer() -> Any:
    from IPython.core.inputtransformer2 import TransformerManager  # a text transform, no kernel

    return TransformerManager()


def _magics() -> dict[str, Any]:
    from .magics import agent, code, memory, mesh, model, reason, tool  # noqa: F401  (register them)
    from .magics.framework import MAGICS

    return MAGICS


def _parse_args(name: str, line: str) -> Any:
    m = _magics()[name]
    try:
        args = m.parse(line)
    except AgentcoreError as exc:
        raise CellParseError(str(exc.message), exc.hint or f"see %{name} --help") from None
    if args is None:
        raise CellParseError(f"%{name} --help is not a step", "remove --help")
    return args


def _magic_calls(tree: ast.Module) -> list[tuple[str, str, str, str | None]]:
    """``(mode, name, line, body)`` of IPython's rewritten magics; ``("python", ...)`` for code."""
    out: list[tuple[str, str, str, str | None]] = []
    for stmt in tree.body:
        call = stmt.value if isinstance(stmt, ast.Expr | ast.Assign) else None
        found = _shell_call(call) if call is not None else None
        if found is None:
            out.append(("python", "", "", None))
            continue
        if found[0] not in ("python", "shell") and isinstance(stmt, ast.Assign):
            found = ("assign", found[1], found[2], found[3])
        out.append(found)
    return out


def _shell_call(call: ast.expr) -> tuple[str, str, str, str | None] | None:
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
        return None
    owner = call.func.value
    if not (
        isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "get_ipython"
    ):
        return None
    consts = [a.value if isinstance(a, ast.Constant) else None for a in call.args]
    attr = call.func.attr
    if attr in ("system", "getoutput"):
        return ("shell", "!", str(consts[0] if consts else ""), None)
    if attr == "run_line_magic" and len(consts) >= 2:
        return ("line", str(consts[0]), str(consts[1]), None)
    if attr == "run_cell_magic" and len(consts) >= 3:
        return ("cell", str(consts[0]), str(consts[1]), str(consts[2]))
    return ("shell", attr, "", None)


def _first_line(source: str) -> str:
    return next((ln.strip() for ln in source.splitlines() if ln.strip()), "")


def cell_node(source: str) -> CellNode:
    """The node a cell's source makes. Raises :class:`CellParseError` (reason + fix) when the cell
    cannot be a node of an exported graph."""
    header = None
    body = source
    split = split_header(source)
    if split is not None:
        try:
            header = parse_header(source)
        except AgentcoreError as exc:
            raise CellParseError(f"malformed %%node line: {exc.message}", "see %%node --help") from None
        body = split[1]
    try:
        code = _transformer().transform_cell(body)
    except SyntaxError as exc:  # pragma: no cover - the transformer is lenient
        raise CellParseError(f"syntax error: {exc.msg}", "fix the cell's code") from None
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        where = f" at line {exc.lineno}" if exc.lineno else ""
        raise CellParseError(f"syntax error{where}: {exc.msg}", "fix the cell's code") from None
    node = _classify(tree, code)
    if header is not None:
        if node.role in ("definition", "view"):
            raise CellParseError(
                f"%%node names a cell that is no step ({_first_line(body)[:40]})",
                "put %%node on a code or step cell only",
            )
        node.name = header.name
        node.policy = header.policy().to_dict()
    return node


def _classify(tree: ast.Module, code: str) -> CellNode:
    calls = _magic_calls(tree)
    magic_calls = [c for c in calls if c[0] != "python"]
    if not magic_calls:
        return _python(tree, code)
    for mode, name, line, _ in magic_calls:
        if mode == "shell":
            raise CellParseError(
                f"shell escape !{line.split()[0] if line.split() else ''}".rstrip(),
                "a graph cannot run shell commands: do it in Python (subprocess), "
                "in a %%code cell, or tag the cell skip-export",
            )
        if name in KERNEL_STATE and not (name == "load_ext" and line.strip() == "agentcore_nb"):
            pct = "%%" if mode == "cell" else "%"
            raise CellParseError(
                f"{pct}{name} changes the kernel's state",
                "move it to the environment (requirements, files) or tag the cell skip-export",
            )
    if len(calls) == 1 and calls[0][0] == "cell":
        _, name, line, body = calls[0]
        assert body is not None
        if name in CODE_BODY:
            inner = ast.parse(body)
            return _python(inner, body)
        return _cell_magic(name, line, body)
    if any(c[0] == "python" for c in calls) or any(c[0] in ("assign", "cell") for c in calls):
        raise CellParseError(
            "the cell mixes Python with magics", "split it: one cell for the magic, one for the code"
        )
    steps = [n for n in (_line_magic(name, line) for _, name, line, _ in magic_calls) if n.role != "view"]
    if not steps:
        return CellNode("view")
    if len(steps) > 1:
        raise CellParseError("the cell holds more than one step", "split it: one magic per cell")
    return steps[0]


def _python(tree: ast.Module, code: str) -> CellNode:
    names = analyze(tree)
    uses = [n for n in names.reads if n in IPYTHON_NAMES] + [
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "get_ipython"
    ]
    if "get_ipython" in uses or "In" in uses or "Out" in uses:
        raise CellParseError(
            "the cell uses the IPython shell (get_ipython, In, Out)",
            "use the Python API instead (e.g. agentcore_nb.project.Project()), or tag the cell skip-export",
        )
    reads = tuple(n for n in names.reads if n not in IPYTHON_NAMES)
    return CellNode("python", "python", {}, names.defines, reads, code=code)


def _line_magic(name: str, line: str) -> CellNode:
    if name in VIEWS or (name == "load_ext" and line.strip() == "agentcore_nb"):
        return CellNode("view")
    if name == "tool":
        args = _parse_args("tool", line)
        if args.action == "call":
            rest = list(args.rest)
            if not rest or len(rest) > 2:
                raise CellParseError("%tool call needs NAME and JSON arguments", "%tool call NAME '{...}'")
            try:
                arguments = json.loads(rest[1]) if len(rest) == 2 else {}
            except json.JSONDecodeError as exc:
                raise CellParseError(
                    f"%tool call: arguments are not JSON: {exc.msg}", "fix the JSON"
                ) from None
            if not isinstance(arguments, dict):
                raise CellParseError("%tool call: arguments must be a JSON object", "fix the JSON")
            return CellNode("step", "tool", tool_call_config(rest[0], arguments), ("_tool_result",))
        return CellNode("view")
    if name == "memory":
        args = _parse_args("memory", line)
        if args.subcommand in ("add", "search", "forget"):
            return CellNode("step", "memory", memory_config(args))
        return CellNode("view")
    if name == "mesh":
        args = _parse_args("mesh", line)
        if args.subcommand in ("send", "request"):
            try:
                payload = json.loads(args.payload) if args.payload is not None else None
            except json.JSONDecodeError as exc:
                raise CellParseError(
                    f"%mesh {args.subcommand}: the payload is not JSON: {exc.msg}", "fix the JSON"
                ) from None
            if args.subcommand == "request" and payload is not None and not isinstance(payload, dict):
                raise CellParseError("%mesh request: an exported payload must be a JSON object", "use {...}")
            defines = ("_mesh_reply",) if args.subcommand == "request" else ()
            return CellNode("step", "mesh", mesh_config(args, payload), defines)
        if args.subcommand in ("status", "dead"):
            return CellNode("view")
        raise CellParseError(
            f"%mesh {args.subcommand} changes what this kernel serves",
            "tag the cell skip-export; serve a bundle with `agentcore mesh worker BUNDLE --topic T`",
        )
    if name == "agent":
        args = _parse_args("agent", line)
        if not args.name:
            return CellNode("view")
        request = " ".join(args.request).strip()
        if not request:
            raise CellParseError(f"%agent {args.name} has no request", f'%agent {args.name} "..."')
        if args.replay:
            raise CellParseError("%agent --replay replays a recorded run", "drop --replay for export")
        # IPython fills {name} in a magic's line from the namespace; the bundle fills it from the
        # node's inputs, so each field is an edge to the cell that defines the name.
        return CellNode(
            "step",
            "agent",
            {"agent": args.name, "request": request},
            ("_agent_result",),
            template_fields(request),
        )
    if name == "subagent":
        parts = shlex.split(line)
        if len(parts) != 2:
            raise CellParseError("%subagent needs PARENT CHILD", "%subagent PARENT CHILD")
        return CellNode(
            "definition", "agent", {"parent": parts[0], "child": parts[1]}, defines_kind="subagent"
        )
    if name == "model":
        args = _parse_args("model", line)
        if args.reset or not args.spec:
            return (
                CellNode("view")
                if not args.reset
                else CellNode("definition", "reason", {"model": None}, defines_kind="model")
            )
        cfg: dict[str, Any] = {"model": args.spec}
        if args.base_url:
            from ..models.http import safe_url

            cfg["base_url"] = safe_url(args.base_url)
        return CellNode("definition", "reason", cfg, defines_kind="model")
    if name in _magics():
        raise CellParseError(
            f"%{name} is a notebook-only magic", "tag the cell skip-export, or use the Python API"
        )
    raise CellParseError(f"%{name} is not a magic an exported graph can run", "tag the cell skip-export")


def _cell_magic(name: str, line: str, body: str) -> CellNode:
    if name == "tool":
        args = _parse_args("tool", line)
        try:
            tree = ast.parse(body)
        except SyntaxError as exc:
            raise CellParseError(
                f"%%tool: syntax error at line {exc.lineno}: {exc.msg}", "fix the function"
            ) from None
        defs = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        if not defs:
            raise CellParseError("%%tool: the cell defines no function", "write `def toolName(...): ...`")
        fn = args.function or defs[-1]
        if fn not in defs:
            raise CellParseError(f"%%tool: no function named {fn!r}", f"use one of {', '.join(defs)}")
        cfg: dict[str, Any] = {"name": args.name or fn, "function": fn}
        if args.timeout is not None:
            cfg["timeout"] = args.timeout
        names = analyze(tree)
        return CellNode("definition", "tool", cfg, names.defines, names.reads, code=body, defines_kind="tool")
    if name == "code":
        args = _parse_args("code", line)
        return CellNode("step", "code", code_config(args, body), ("_code_result",))
    if name == "reason":
        args = _parse_args("reason", line)
        return CellNode("step", "reason", reason_config(args, body), (args.as_,), template_fields(body))
    if name == "agent":
        args = _parse_args("agent", line)
        if not args.name or args.request:
            raise CellParseError("%%agent needs a NAME and no request", "%%agent NAME [--tools a,b]")
        from .magics.agent import agent_from_args

        try:
            agent = agent_from_args(args, body)
        except AgentcoreError as exc:
            raise CellParseError(exc.message, exc.hint or "fix the %%agent line") from None
        return CellNode("definition", "agent", {"agent": agent.to_config()}, defines_kind="agent")
    if name in _magics():
        raise CellParseError(f"%%{name} is a notebook-only magic", "tag the cell skip-export")
    raise CellParseError(f"%%{name} is not a magic an exported graph can run", "tag the cell skip-export")


__all__ = [
    "CellNode",
    "CellParseError",
    "cell_node",
    "code_config",
    "memory_config",
    "reason_config",
    "template_fields",
    "tool_call_config",
]
