"""``%agentcore``: where this notebook keeps its state, and what is loaded."""

from __future__ import annotations

from typing import Any

from ..._version import __version__
from .framework import MAGICS, MagicCall, magic


@magic("agentcore", help="Show the agentcore-nb version, state directory and available magics.")
def agentcore_magic(call: MagicCall) -> Any:
    if call.args.setting == "warnings":
        if call.args.value is not None:
            call.session.warnings = call.args.value == "on"
        print(f"graph notes in cell output: {'on' if call.session.warnings else 'off'}")
        return
    project = call.session.project
    lines = [
        f"agentcore-nb {__version__}",
        f"state: {project.home}",
        f"session: {call.session.session_id}",
        f"run: {call.session.run_id} (agentcore events {call.session.run_id})",
        "magics: "
        + ", ".join(sorted(("%%" if m.modes == ("cell",) else "%") + n for n, m in MAGICS.items())),
    ]
    print("\n".join(lines))


agentcore_magic.parser.add_argument(
    "setting", nargs="?", choices=["warnings"], help="warnings: graph notes in cell output"
)
agentcore_magic.parser.add_argument("value", nargs="?", choices=["on", "off"], help="on or off")
