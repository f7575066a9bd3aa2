"""``%%code [--lang python|js|r] [--session S] [--timeout S] [--allow-net HOST:PORT]``: run the cell
in the sandboxed code interpreter and show what it produced (tables as HTML, images as PNG)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from ...interpreter.executor import CodeExecutionError
from ...interpreter.limits import InterpreterError, parse_host_port
from ...interpreter.result import ExecutionResult
from ...interpreter.sandbox import normalize_language
from ...interpreter.session import check_session_name
from ..nodes import code_config
from .framework import MagicCall, magic
from .node import seconds


def _interpreter_arg(check: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type from an interpreter check: its :class:`InterpreterError` is the usage line."""

    def parse(text: str) -> Any:
        try:
            return check(text)
        except InterpreterError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


_language = _interpreter_arg(normalize_language)
_session = _interpreter_arg(check_session_name)
_host_port = _interpreter_arg(lambda text: "{}:{}".format(*parse_host_port(text)))


def show(call: MagicCall, result: ExecutionResult) -> None:
    """stdout, stderr, then rich results as display_data (the way a kernel shows them)."""
    if result.warning:
        print(f"warning: {result.warning}", file=sys.stderr)
    if result.stdout:
        sys.stdout.write(result.stdout)
        sys.stdout.flush()
    if result.stderr:
        sys.stderr.write(result.stderr)
    if result.truncated:
        print("[output truncated at the output limit]", file=sys.stderr)
    for item in result.results:
        data = item.get("data")
        if isinstance(data, dict) and data:
            call.display(data, raw=True, metadata=item.get("metadata") or {})
    if result.error and result.error.get("traceback"):
        sys.stderr.write(result.error["traceback"].rstrip() + "\n")
    sys.stderr.flush()


@magic(
    "code",
    help="Run this cell in a sandboxed Python, JavaScript or R session (no network unless allowed).",
    kind="code",
    modes=("cell",),
    epilog="Examples:\n  %%code\n  import pandas as pd\n  pd.read_csv('metrics.csv').tail()\n\n"
    "  %%code --lang js --timeout 5\n  [1, 2, 3].map(x => x * 2)\n\n"
    "Variables persist per session and language; files live in /workspace.",
)
def code_magic(call: MagicCall) -> Any:
    args = call.args
    source = call.cell or ""
    session = args.session or f"nb-{call.session.session_id[:12]}"
    call.metadata["config"] = code_config(args, source)
    interpreter = call.session.project.services["interpreter"]
    result = interpreter.execute_code(
        source,
        language=args.lang,
        session=session,
        clear_context=args.clear,
        timeout=args.timeout,
        allow_net=args.allow_net or None,
    )
    call.define("_code_result", result)
    show(call, result)
    if not result.ok:
        raise CodeExecutionError(result)


code_magic.parser.add_argument(
    "--lang", "-l", type=_language, default="python", help="python (default), js / javascript, or r"
)
code_magic.parser.add_argument(
    "--session", "-s", type=_session, default=None, help="interpreter session name"
)
code_magic.parser.add_argument(
    "--timeout", "-t", type=seconds, default=None, help="wall-clock limit in seconds"
)
code_magic.parser.add_argument(
    "--allow-net",
    type=_host_port,
    action="append",
    default=[],
    metavar="HOST:PORT",
    help="permit connections to HOST:PORT (repeatable; checked against your identity's net: scopes)",
)
code_magic.parser.add_argument(
    "--clear", action="store_true", help="start from a fresh interpreter (clearContext)"
)
