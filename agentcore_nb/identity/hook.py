"""Issuance in the runtime: every node invocation gets its own token, narrowed to what it needs.

The run's root is the caller's token (``runtime.run(..., token=)``, verified at provision and
bound to the run's session; a single-use token is spent there, the run being its one use) or,
without one, the local owner. Each node's token carries the
scopes the node asks for (:mod:`.derive`), intersected with its parent's: the run token for a
top-level node, the enclosing node's token for a child (``parent/child``, e.g. an agent's tool
calls and sub-agents). So a child never holds what its parent lacked; what was withheld is named
in the span (``agentcore.identity.withheld``) and the node is refused when it tries to use it.

An ``agent`` node acts for its parent's subject: its token keeps ``sub`` and records the agent
as the current actor in ``act`` (RFC 8693), prior actors nested inside.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..errors import NotPermittedError
from ..observability import conventions as conv
from ..runtime.hooks import RunHook
from .derive import agent_name, node_scopes
from .scopes import allowed, narrow
from .tokens import Claims, InvalidTokenError

if TYPE_CHECKING:
    from ..runtime.context import NodeContext, RunContext
    from .service import Identity

RUN_TOKEN = "identity.token"  # set by Runtime.run(..., token=)
_CLAIMS = "identity.claims"  # node id ("" for the run) -> Claims
_ISSUED = "identity.issued"  # tokens issued in this run (unregistered at vanish)


class IdentityHook(RunHook):
    """Give every node a token. Built from a Project (lazily uses its ``identity`` service) or an
    :class:`Identity`; does nothing when ``node_tokens`` is off in the identity config."""

    name = "identity"

    def __init__(self, source: Any) -> None:
        self._source = source

    def _identity(self, run: RunContext) -> Identity | None:
        from .service import Identity

        found = self._source
        if not isinstance(found, Identity):
            try:
                found = run.services["identity"]
            except KeyError:
                return None
        return found if isinstance(found, Identity) else None

    def provision(self, run: RunContext) -> None:
        identity = self._identity(run)
        if identity is None or not identity.config.node_tokens:
            run.state[_CLAIMS] = None
            return
        claims: dict[str, Claims] = {}
        token = run.state.pop(RUN_TOKEN, None)  # only its verified claims stay in the run state
        if token is not None:
            try:
                claims[""] = identity.verify(token, session_id=run.session_id)
            except InvalidTokenError as exc:
                raise NotPermittedError(f"not permitted: run (the run's token: {exc.reason})") from None
            if claims[""].once and not identity.spend(claims[""]):  # the run is its one use
                raise NotPermittedError("not permitted: run (the run's token: single-use token already used)")
        run.state[_CLAIMS] = claims
        run.state[_ISSUED] = _Issued()
        run.state["identity.service"] = identity

    def node_started(self, ctx: NodeContext) -> None:
        state = ctx.run.state
        claims_of: dict[str, Claims] | None = state.get(_CLAIMS)
        if claims_of is None:
            return
        identity: Identity = state["identity.service"]
        parent_id = ctx.node_id.rpartition("/")[0]
        parent = claims_of.get(parent_id) if parent_id else None
        if parent is None:
            parent = claims_of.get("")
        wanted = node_scopes(ctx.node)
        actor = agent_name(ctx.node)
        if parent is None:
            subject = actor or _graph_subject(ctx.run.graph.name)
            token, claims = identity._mint(subject, wanted, session=ctx.session_id)
            withheld: list[str] = []
        else:
            granted = narrow(parent.scopes, wanted)
            withheld = [w for w in wanted if not allowed(granted, w)]
            token, claims = identity._mint(actor or parent.agent, granted, parent=parent)
        ctx.token = token
        claims_of[ctx.node_id] = claims
        state[_ISSUED].append(token)
        identity._live[token] = (ctx, claims)
        span = ctx.span
        if span.is_recording():
            span.set_attribute(conv.IDENTITY_AGENT, claims.agent)
            span.set_attribute(conv.IDENTITY_JTI, claims.jti)
            span.set_attribute(conv.IDENTITY_SCOPES, list(claims.scopes))
            if withheld:
                span.set_attribute(conv.IDENTITY_WITHHELD, withheld)

    def node_finished(self, ctx: NodeContext, ok: bool, output: Any, error: BaseException | None) -> None:
        identity = ctx.run.state.get("identity.service")
        if identity is not None and ctx.token is not None:
            identity._live.pop(ctx.token, None)

    def vanish(self, run: RunContext) -> None:
        identity = run.state.get("identity.service")
        if identity is not None:
            for token in run.state.get(_ISSUED) or ():
                identity._live.pop(token, None)
        run.state.pop(_ISSUED, None)
        run.state.pop(RUN_TOKEN, None)


class _Issued(list[str]):
    """The run's tokens, kept to unregister them; shown as a count (run state may be printed)."""

    def __repr__(self) -> str:
        return f"<{len(self)} identity tokens>"


def _graph_subject(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_.:@/\-]", "-", name or "graph")[:120]
    return f"graph:{clean}"


def hook_for(project: Any) -> IdentityHook:
    """The factory :func:`agentcore_nb.project.register_run_hook` calls for each project runtime."""
    return IdentityHook(project)


__all__ = ["RUN_TOKEN", "IdentityHook", "hook_for"]
