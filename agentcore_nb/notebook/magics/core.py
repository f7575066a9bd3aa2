"""``%agentcore``: where this notebook keeps its state, and what is loaded."""

from __future__ import annotations

from typing import Any

from ..._version import __version__
from .framework import MAGICS, MagicCall, magic


@magic("agentcore", help="Show the agentcore-nb version, state directory and available magics.")
def agentcore_magic(call: MagicCall) -> Any:
    project = call.session.project
    lines = [
        f"agentcore-nb {__version__}",
        f"state: {project.home}",
        f"session: {call.session.session_id}",
        "magics: "
        + ", ".join(sorted(("%%" if m.modes == ("cell",) else "%") + n for n, m in MAGICS.items())),
    ]
    print("\n".join(lines))
