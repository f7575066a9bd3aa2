"""``%%node NAME [--retries N] [--timeout S] [--fallback OTHER]``: name a cell and set its policy.

The cell tracker strips a well-formed ``%%node`` header before IPython sees the cell, so the body
runs as a plain cell (its output, errors and last value behave normally). IPython only calls this
handler when the header is malformed (or asks for ``--help``), which the framework turns into one
usage line.
"""

from __future__ import annotations

import argparse
from typing import Any

from ...graph.validate import NAME_RE
from .framework import MagicCall, UsageError, magic


def node_name(text: str) -> str:
    if not NAME_RE.match(text):
        raise argparse.ArgumentTypeError(
            f"invalid node name {text!r} (use letters, digits, '_' or '-', starting with a letter)"
        )
    return text


def retry_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"retries must be a whole number, got {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"retries must be between 0 and 100, got {value}")
    return value


def positive(text: str) -> int:
    """A whole number of at least 1 (``--max-steps``, ``--max-tokens`` of ``%%agent``/``%%reason``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"timeout must be a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"timeout must be positive, got {text}")
    return value


def check_node_args(args: argparse.Namespace) -> None:
    """What argparse cannot check on its own."""
    if args.fallback is not None and args.fallback == args.name:
        raise UsageError(f"%%node {args.name}: a node cannot fall back to itself", hint="name another cell")


@magic(
    "node",
    help="Name this cell's graph node and set its policy (used by %graph run).",
    modes=("cell",),
    epilog="Example:\n  %%node fetch --retries 2 --timeout 10 --fallback cached\n  data = fetch(url)",
)
def node_magic(call: MagicCall) -> Any:
    check_node_args(call.args)
    raise UsageError(
        "%%node must be the first line of a code cell",
        hint="put '%%node NAME' on the cell's first line, above its code",
    )


node_magic.parser.add_argument("name", type=node_name, help="the node's name (unique in the notebook)")
node_magic.parser.add_argument(
    "--retries", type=retry_count, default=0, help="retries after a failure (0-100)"
)
node_magic.parser.add_argument(
    "--timeout", type=seconds, default=None, help="seconds before an attempt fails"
)
node_magic.parser.add_argument(
    "--fallback",
    type=node_name,
    default=None,
    metavar="OTHER",
    help="node that runs in this one's place on failure",
)
