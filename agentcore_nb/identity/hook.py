"""Issuance in the runtime: every node invocation gets its own token, narrowed to what it needs.

The grant (agent, scopes, what was withheld) is decided when the node starts and recorded on its
span. A node that asks for scopes (tool, memory, code, agent nodes, or declared ones) gets its
token then; one that asks for none (a plain python node) gets it signed on first use of
``ctx.token``, so a node that crosses no boundary costs no signature. A revoked session is
refused at every node start either way (revoked in another process: within ``RECHECK_S``, 0.1 s;
the revocation files are not stat'ed at every node start).

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

import functools
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
        identity_type = _identity_type()
        found = self._source
        if not isinstance(found, identity_type):
            try:
                found = run.services["identity"]
            except KeyError:
                return None
        return found if isinstance(found, identity_type) else None

    def provision(self, run: RunContext) -> None:
        identity = self._identity(run)
        if identity is None or not identity.run_config().node_tokens:
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
        """Decide the node's grant (span attributes now); sign its token when it is first used."""
        state = ctx.run.state
        claims_of: dict[str, Any] | None = state.get(_CLAIMS)
        if claims_of is None:
            return
        identity: Identity = state["identity.service"]
        reason = identity.revocations.reason(ctx.session_id, "", recent=True)  # within RECHECK_S
        if reason:  # a revoked session runs nothing more, token or not
            raise NotPermittedError(f"not permitted: issue ({reason})")
        parent_id = ctx.node_id.rpartition("/")[0]
        parent_id = parent_id if parent_id in claims_of else ""
        wanted = node_scopes(ctx.node)
        actor = agent_name(ctx.node)
        parent = claims_of.get(parent_id)
        if parent is None:
            agent, granted, withheld = actor or _graph_subject(ctx.run.graph.name), wanted, []
        else:
            scopes = parent.scopes if isinstance(parent, Claims) else parent[1]
            granted = narrow(scopes, wanted)
            withheld = [w for w in wanted if not allowed(granted, w)]
            agent = actor or (parent.agent if isinstance(parent, Claims) else parent[2])
        claims_of[ctx.node_id] = (ctx, granted, agent)  # pending until the token is first used
        ctx._token = None  # each attempt is an invocation with a token of its own
        ctx.minter = functools.partial(self._mint, identity, claims_of, parent_id, actor, granted)
        span = ctx.span
        if span.is_recording():
            grant: dict[str, Any] = {conv.IDENTITY_AGENT: agent, conv.IDENTITY_SCOPES: list(granted)}
            if withheld:
                grant[conv.IDENTITY_WITHHELD] = withheld
            span.set_attributes(grant)  # one lock and one pass for all of them
        if wanted:  # it will cross a boundary: it holds its token from the start
            ctx.token  # noqa: B018

    @staticmethod
    def _mint(
        identity: Identity,
        claims_of: dict[str, Any],
        parent_id: str,
        actor: str | None,
        granted: tuple[str, ...],
        ctx: NodeContext,
    ) -> str:
        parent = claims_of.get(parent_id)
        if parent is not None and not isinstance(parent, Claims):
            parent[0].token  # noqa: B018 - a child's token derives from its parent's: mint that first
            parent = claims_of[parent_id]
        if parent is None:
            subject = actor or _graph_subject(ctx.run.graph.name)
            token, claims = identity._mint(subject, granted, session=ctx.session_id)
        else:
            token, claims = identity._mint(actor or parent.agent, granted, parent=parent)
        claims_of[ctx.node_id] = claims
        ctx.run.state[_ISSUED].append(token)
        identity._live[token] = (ctx, claims)
        if ctx.span.is_recording():
            ctx.span.set_attribute(conv.IDENTITY_JTI, claims.jti)
        return token

    def node_finished(self, ctx: NodeContext, ok: bool, output: Any, error: BaseException | None) -> None:
        identity = ctx.run.state.get("identity.service")
        if identity is not None and ctx._token is not None:
            identity._live.pop(ctx._token, None)

    def vanish(self, run: RunContext) -> None:
        identity = run.state.get("identity.service")
        if identity is not None:
            for token in run.state.get(_ISSUED) or ():
                identity._live.pop(token, None)
        run.state.pop(_ISSUED, None)
        run.state.pop(RUN_TOKEN, None)


@functools.cache
def _identity_type() -> type[Identity]:
    """:class:`.service.Identity`, imported on first use (it imports this module's users), once:
    an import statement in :meth:`IdentityHook._identity` cost a lookup at every run's start."""
    from .service import Identity

    return Identity


class _Issued(list[str]):
    """The run's tokens, kept to unregister them; shown as a count (run state may be printed)."""

    def __repr__(self) -> str:
        return f"<{len(self)} identity tokens>"


@functools.lru_cache(maxsize=256)  # asked at every top-level node start
def _graph_subject(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_.:@/\-]", "-", name or "graph")[:120]
    return f"graph:{clean}"


def hook_for(project: Any) -> IdentityHook:
    """The factory :func:`agentcore_nb.project.register_run_hook` calls for each project runtime."""
    return IdentityHook(project)


__all__ = ["RUN_TOKEN", "IdentityHook", "hook_for"]
