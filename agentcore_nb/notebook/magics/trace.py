"""``%trace [RUN_ID]``: a run's trace as an interactive widget (default: the session's last run)."""

from __future__ import annotations

from typing import Any

from .framework import MagicCall, magic


@magic(
    "trace",
    help="Show a run's trace: span tree, timeline, tokens, cost (default: this session's last run).",
    epilog="Examples:\n  %trace\n  %trace 9e56e20f\n  %trace --text 9e56e20f",
)
def trace_magic(call: MagicCall) -> Any:
    from ..views.trace import trace_view

    view = trace_view(call.session, call.args.run_id)
    if call.args.text:
        print(view.text())
        view.close()
        return None
    call.display(view)
    return None


trace_magic.parser.add_argument("run_id", nargs="?", help="run id or a unique prefix")
trace_magic.parser.add_argument("--text", action="store_true", help="plain text instead of the widget")


def show_after_run(call: MagicCall, run_id: str) -> None:
    """Remember ``run_id`` as the session's last run and show its trace (used by %agent, %graph run)."""
    call.session.last_run_id = run_id
    from ..views.trace import trace_view

    try:
        call.display(trace_view(call.session, run_id))
    except Exception as exc:  # the trace is a view: it must never fail the cell that ran
        print(f"(trace not shown: {exc})")
