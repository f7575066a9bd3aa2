"""``%%reason [--model M] [--as NAME]``: one reasoning step. The cell body is a prompt template whose
``{name}`` fields read notebook variables (edges to the cells that define them); the completion is
stored in ``NAME`` (default ``_reason_result``). It runs as a ``reason`` node on the project's
runtime, the same node an exported graph runs."""

from __future__ import annotations

import argparse
from typing import Any

from ...graph.spec import Graph
from ..nodes import reason_config, template_fields
from .framework import MagicCall, UsageError, magic
from .node import positive


def _variable(text: str) -> str:
    if not text.isidentifier():
        raise argparse.ArgumentTypeError(f"--as needs a Python variable name, got {text!r}")
    return text


def reason_graph(config: dict[str, Any], fields: tuple[str, ...], name: str = "reason") -> Graph:
    """A one-node graph: the ``reason`` node, its fields wired from the run input."""
    graph = Graph("reason")
    graph.node(name, kind="reason", config=config, inputs={f: f"$input.{f}" for f in fields})
    return graph


@magic(
    "reason",
    help="A reasoning step: the cell is a prompt; {name} fields read variables; the answer goes to --as NAME.",
    kind="reason",
    modes=("cell",),
    epilog="Example:\n  %%reason --as verdict\n  Order {order_id} has status {status}. Should we refund it? Answer yes or no.",
)
def reason_magic(call: MagicCall) -> Any:
    args = call.args
    template = (call.cell or "").strip()
    if not template:
        raise UsageError("%%reason: the cell is empty", hint="write the prompt in the cell body")
    fields = template_fields(template)
    ns = call.shell.user_ns
    missing = [f for f in fields if f not in ns]
    if missing:
        raise UsageError(
            f"%%reason: {', '.join('{' + m + '}' for m in missing)} names no variable",
            hint="define it in a cell first, or write {{ }} for a literal brace",
        )
    config = reason_config(args, template)
    call.metadata["config"] = config
    call.metadata["reads"] = list(fields)
    call.metadata["defines"] = [args.as_]
    project = call.session.project
    result = project.runtime().run(
        reason_graph(config, fields),
        {f: ns[f] for f in fields},
        session_id=call.session.session_id,
    )
    result.raise_for_status()
    text = str((result.outputs.get("reason") or {}).get("text", ""))
    call.define(args.as_, text)
    print(text)
    return None


reason_magic.parser.add_argument("--model", default=None, help="PROVIDER:MODEL (default: %%model)")
reason_magic.parser.add_argument(
    "--as", dest="as_", type=_variable, default="_reason_result", help="variable for the completion"
)
reason_magic.parser.add_argument("--system", default=None, help="system instructions")
reason_magic.parser.add_argument("--max-tokens", type=positive, default=None, help="output token limit")

__all__ = ["reason_graph", "reason_magic"]
