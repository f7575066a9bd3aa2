"""``%graph``: show the notebook's graph, run it through the engine, print its spec."""

from __future__ import annotations

import json
from typing import Any

from .framework import MagicCall, magic
from .trace import show_after_run


@magic(
    "graph",
    help="Show the notebook's graph of cells, run it through the engine, or print its spec.",
    epilog=(
        "Examples:\n"
        "  %graph                       the graph as a live DAG widget (text when no widgets)\n"
        "  %graph run                   re-run every cell (independent cells in parallel)\n"
        "  %graph run --from fetch      re-run fetch and everything downstream of it\n"
        "  %graph run --only a b        re-run just a and b\n"
        "  %graph run --stale           re-run the stale cells and what depends on them\n"
        "  %graph stale                 list cells whose inputs changed since they ran\n"
        "  %graph json                  the graph spec (agentcore_graph JSON)"
    ),
)
def graph_magic(call: MagicCall) -> Any:
    session = call.session
    cells = session.cells
    sub = call.args.subcommand
    if sub in (None, "show"):
        if sub == "show" and call.args.text:
            print(cells.summary())
            print(f"run: {session.run_id} (agentcore events {session.run_id})")
            return None
        if sub == "show" and call.args.buttons:
            call.display(session.views.new_view())
            return None
        from ..views.graph import graph_view

        call.display(graph_view(session))
        return None
    if sub == "json":
        print(json.dumps(cells.graph.to_dict(), indent=1 if call.args.indent else None, default=str))
        return None
    if sub == "stale":
        stale = cells.stale()
        print("stale: " + ", ".join(stale) if stale else "no stale cells")
        return None
    if sub == "run":
        from ..graphrun import format_run, raise_for_failures, run_cells

        only = call.args.only
        if call.args.stale:
            from ..graphrun import stale_members

            only = stale_members(cells)
            if not only:
                print("no stale cells: nothing to run")
                return None
        result, watch = run_cells(session, call.shell.user_ns, start=call.args.start, only=only)
        print(format_run(result, watch))
        show_after_run(call, result.run_id)
        raise_for_failures(result)
        return None
    if sub == "remove":
        from .framework import UsageError

        unknown = [n for n in call.args.nodes if n not in cells.cells]
        if unknown:
            raise UsageError(
                f"%graph remove: no node {', '.join(repr(u) for u in unknown)} in the notebook graph"
            )
        removed = cells.remove(call.args.nodes)
        cells.flush()
        print("removed: " + ", ".join(removed))
        return None
    if sub == "reset":
        cells.reset()
        cells.flush()
        print("the notebook graph is empty")
        return None
    return None


_sub = graph_magic.subcommands()
_sub.required = False
_show = _sub.add_parser("show", help="Text summary and a live widget (the default).")
_show.add_argument("--text", action="store_true", help="only the text summary")
_show.add_argument("--buttons", action="store_true", help="the node-button view instead of the DAG")
_run = _sub.add_parser("run", help="Re-run the graph (or part of it) through the engine's runtime.")
_which = _run.add_mutually_exclusive_group()
_which.add_argument("--from", dest="start", metavar="NODE", help="run NODE and everything downstream of it")
_which.add_argument("--only", nargs="+", metavar="NODE", help="run only these nodes")
_which.add_argument(
    "--stale", action="store_true", help="run the stale cells and everything downstream of them"
)
_json = _sub.add_parser("json", help="Print the graph spec (agentcore_graph JSON).")
_json.add_argument("--indent", action="store_true", help="pretty-print")
_sub.add_parser("stale", help="List the stale cells.")
_remove = _sub.add_parser("remove", help="Forget nodes (cells you deleted).")
_remove.add_argument("nodes", nargs="+", metavar="NODE")
_sub.add_parser("reset", help="Forget every node.")
