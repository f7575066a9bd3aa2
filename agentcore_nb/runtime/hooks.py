"""Lifecycle hook points, after the seed: provision -> fetch context -> execute -> emit -> vanish.

Components plug in here without the runtime knowing them: identity issues a token per node in
``node_started``, memory supplies context in ``fetch_context``, the interpreter provisions and
reaps sandboxes in ``provision`` / ``vanish``. Every method is optional.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import NodeContext, RunContext


class RunHook:
    """Subclass and override what you need; the defaults do nothing."""

    name = "hook"

    def provision(self, run: RunContext) -> None:
        """Before anything runs: acquire per-run resources."""

    def fetch_context(self, run: RunContext) -> dict[str, Any] | None:
        """Return context for the run (recorded, summarized, in the ``ContextFetched`` event)."""
        return None

    def node_started(self, ctx: NodeContext) -> None:
        """Before each attempt of a node body (set ``ctx.token`` here)."""

    def node_finished(self, ctx: NodeContext, ok: bool, output: Any, error: BaseException | None) -> None:
        """After each attempt, successful or not."""

    def executed(self, run: RunContext, status: str) -> None:
        """All nodes reached a final state."""

    def vanish(self, run: RunContext) -> None:
        """Release per-run resources; runs even when the run failed."""
