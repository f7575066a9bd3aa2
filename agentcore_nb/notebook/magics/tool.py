"""``%%tool`` defines a Python tool in a cell; ``%tool list|call|search|show`` uses the gateway."""

from __future__ import annotations

import ast
import json
from typing import Any

from ...gateway.spec import ToolError
from ..nodes import tool_call_config
from .framework import MagicCall, UsageError, magic
from .tables import table_bundle


def _gateway(call: MagicCall) -> Any:
    return call.session.project.services["gateway"]


class _ProgressBar:
    """An MCP server's progress notifications as an ipywidgets bar, shown from the first one on.
    Made and displayed in the cell's thread; the gateway's loop thread only sets its values."""

    def __init__(self, call: MagicCall, name: str) -> None:
        import ipywidgets as widgets

        self.bar = widgets.FloatProgress(value=0, min=0, max=1, description=name[:24],
                                         layout=widgets.Layout(display="none"))  # fmt: skip
        self.seen = False
        call.display(self.bar)

    def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.seen = True
        self.bar.max = float(total) if total else max(float(progress), 1.0)
        self.bar.value = float(progress)
        self.bar.layout.display = None
        if message:
            self.bar.bar_style = "info"
            self.bar.tooltip = str(message)[:200]

    def finish(self) -> None:
        if not self.seen:
            self.bar.close()
        else:
            self.bar.bar_style = "success"


def _call(call: MagicCall, gateway: Any, name: str, arguments: dict[str, Any]) -> Any:
    """``%tool call``: rich MCP results shown part by part (images as image/png, audio as a player)."""
    import io
    import sys

    from ...gateway.content import as_tool_result, display_bundles

    is_mcp = gateway.get(name).target.get("type") == "mcp"
    progress = _ProgressBar(call, name) if is_mcp else None
    echo = io.StringIO() if call.args.verbose else None
    try:
        result = gateway.call(
            name, arguments, session_id=call.session.session_id, progress=progress, echo=echo
        )
    finally:
        if progress is not None:
            progress.finish()
        if echo is not None and echo.getvalue():
            sys.stderr.write(echo.getvalue())
    call.define("_tool_result", result)
    rich = as_tool_result(result)
    if rich is None:
        return result
    for bundle in display_bundles(rich):
        call.display(bundle, raw=True)
    return None


def _define(call: MagicCall) -> None:
    source = call.cell or ""
    try:
        tree = ast.parse(source, "<%%tool>")
    except SyntaxError as exc:
        raise UsageError(f"%%tool: syntax error at line {exc.lineno}: {exc.msg}") from None
    defs = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if not defs:
        raise UsageError(
            "%%tool: the cell defines no function",
            hint="write `def getOrderStatus(order_id: str) -> dict: ...`",
        )
    fn_name = call.args.function or defs[-1]
    if fn_name not in defs:
        raise UsageError(
            f"%%tool: the cell defines no function named {fn_name!r} (it defines {', '.join(defs)})"
        )
    exec(compile(tree, "<%%tool>", "exec"), call.shell.user_ns)
    fn = call.shell.user_ns[fn_name]
    spec = _gateway(call).register_function(fn, name=call.args.name, timeout=call.args.timeout)
    definition: dict[str, Any] = {"name": spec.name, "function": fn_name}
    if call.args.timeout is not None:
        definition["timeout"] = call.args.timeout
    call.metadata["config"] = {"define": definition}
    call.metadata["defines"] = defs
    print(f"registered tool {spec.ref}: {spec.description or '(no description)'}")


@magic(
    "tool",
    help="Tools: %%tool defines one from a Python function; %tool list | show NAME | call NAME JSON | search QUERY.",
    kind="tool",
    modes=("line", "cell"),
    epilog='Examples:\n  %%tool\n  def getOrderStatus(order_id: str) -> dict:\n      """Where an order is."""\n'
    "      return {'status': 'delivered'}\n\n  %tool call getOrderStatus '{\"order_id\": \"1234\"}'\n"
    "  %tool search where is my parcel",
)
def tool_magic(call: MagicCall) -> Any:
    args = call.args
    if call.cell is not None:
        if args.action:
            raise UsageError(
                "%%tool takes options only (--name, --function, --timeout); the cell is the function"
            )
        _define(call)
        return None
    gateway = _gateway(call)
    action, rest = args.action, list(args.rest)
    if action in (None, "list"):
        rows = [(s.ref, s.target.get("type", "none"), s.description) for s in gateway.list()]
        call.display(table_bundle(("tool", "target", "description"), rows), raw=True)
        return None
    if action == "show":
        if len(rest) != 1:
            raise UsageError("%tool show NAME")
        print(json.dumps(gateway.get(rest[0]).to_mcp(), indent=2))
        return None
    if action == "search":
        if not rest:
            raise UsageError("%tool search QUERY")
        hits = gateway.search(" ".join(rest), args.k)
        rows = [(f"{score:.3f}", s.name, s.description) for s, score in hits]
        call.display(table_bundle(("score", "tool", "description"), rows), raw=True)
        return None
    if action == "call":
        if not rest or len(rest) > 2:
            raise UsageError('%tool call NAME [\'{"json": "arguments"}\']')
        try:
            arguments = json.loads(rest[1]) if len(rest) == 2 else {}
        except json.JSONDecodeError as exc:
            raise UsageError(f"%tool call: arguments are not JSON: {exc.msg}") from None
        call.metadata["config"] = tool_call_config(rest[0], arguments)
        call.metadata["defines"] = ["_tool_result"]
        return _call(call, gateway, rest[0], arguments)
    raise UsageError(f"%tool: unknown action {action!r}", hint="use list, show, call or search")


tool_magic.parser.add_argument("action", nargs="?", default=None)
tool_magic.parser.add_argument("rest", nargs="*")
tool_magic.parser.add_argument(
    "--name", default=None, help="%%tool: the tool's name (default: the function's)"
)
tool_magic.parser.add_argument("--function", default=None, help="%%tool: which function of the cell")
tool_magic.parser.add_argument("--timeout", type=float, default=None, help="%%tool: seconds per call")
tool_magic.parser.add_argument("-k", type=int, default=5, help="search: how many results")
tool_magic.parser.add_argument(
    "--verbose", "-v", action="store_true", help="call: also show an MCP server's stderr (always in the log)"
)

__all__ = ["ToolError", "tool_magic"]
