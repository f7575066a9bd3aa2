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
        result = gateway.call(rest[0], arguments, session_id=call.session.session_id)
        call.define("_tool_result", result)
        return result
    raise UsageError(f"%tool: unknown action {action!r}", hint="use list, show, call or search")


tool_magic.parser.add_argument("action", nargs="?", default=None)
tool_magic.parser.add_argument("rest", nargs="*")
tool_magic.parser.add_argument(
    "--name", default=None, help="%%tool: the tool's name (default: the function's)"
)
tool_magic.parser.add_argument("--function", default=None, help="%%tool: which function of the cell")
tool_magic.parser.add_argument("--timeout", type=float, default=None, help="%%tool: seconds per call")
tool_magic.parser.add_argument("-k", type=int, default=5, help="search: how many results")

__all__ = ["ToolError", "tool_magic"]
