"""``%export [DIR] [--notebook NB] [--run [--input JSON]]``: write this notebook's graph bundle
(what ``agentcore export NB -o DIR`` writes), and optionally run it here, the way
``agentcore run local DIR`` does, on this notebook's project."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .framework import MagicCall, UsageError, magic


def notebook_path(call: MagicCall) -> Path:
    """``--notebook``, else the path Jupyter gave the kernel's session (``JPY_SESSION_NAME``)."""
    given = call.args.notebook or os.environ.get("JPY_SESSION_NAME") or call.shell.user_ns.get("__session__")
    if not given or not str(given).endswith(".ipynb"):
        raise UsageError(
            "%export: which notebook? this kernel was not told its file",
            hint="%export DIR --notebook NAME.ipynb (save the notebook first)",
        )
    return Path(str(given))


@magic(
    "export",
    help="Export the saved notebook as a graph bundle (cells as nodes); --run runs the bundle here.",
    epilog="Examples:\n  %export bundle --notebook 06-export.ipynb\n"
    '  %export bundle --notebook 06-export.ipynb --run --input \'{"order_id": "5678"}\'\n\n'
    "Cells tagged parameters give the graph's inputs, output its result; skip-export leaves a cell out.",
)
def export_magic(call: MagicCall) -> Any:
    from ...export import export_notebook, load_bundle, result_value, run_bundle
    from ...observability.summary import format_run_summary

    args = call.args
    path = notebook_path(call)
    out = Path(args.dir or f"{path.stem}-bundle")
    written = export_notebook(path, out)
    print(f"exported {path.name} -> {args.dir or out} (agentcore run local {args.dir or out})")
    if not args.run:
        if args.input is not None:
            raise UsageError("%export: --input needs --run")
        return None
    try:
        given = json.loads(args.input) if args.input is not None else None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"%export: --input is not JSON: {exc.msg}", hint="e.g. --input '{\"x\": 1}'"
        ) from None
    project = call.session.project
    result = run_bundle(load_bundle(written), given, project=project, session_id=call.session.session_id)
    print(json.dumps(result_value(result.output), indent=2, default=repr))
    print(format_run_summary(project.event_log.events(result.run_id)))
    result.raise_for_status()
    return None


_p = export_magic.parser
_p.add_argument("dir", nargs="?", default=None, help="bundle directory (default: NOTEBOOK-bundle)")
_p.add_argument("--notebook", "-n", default=None, help="the notebook file (default: this kernel's)")
_p.add_argument("--run", action="store_true", help="run the bundle here after writing it")
_p.add_argument("--input", "-i", default=None, help="with --run: parameters as a JSON object")
