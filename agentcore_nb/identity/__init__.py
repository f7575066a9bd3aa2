"""Identity: ephemeral scoped tokens for every node, attenuation for sub-agents, the boundary check.

``project.services["identity"]`` is an :class:`Identity` on ``<state>/identity``::

    token = identity.issue("support-bot", "tool:getOrderStatus memory:read:support", ttl=300)
    sub = identity.delegate(token, "refund-helper", ["tool:getOrderStatus"])   # only narrower
    identity.authorize(sub, "tool:getOrderStatus", session_id=...)            # -> Claims
    identity.authorize(sub, "memory:read:support")    # NotPermittedError: not permitted: ... (...)

A project's runtime gives every node invocation its own narrowed token (:mod:`.hook`). Tokens are
Ed25519 JWTs checked by RFC 8725 rules (:mod:`.tokens`); see ``docs/security.md``.
"""

from __future__ import annotations

from typing import Any

from ..project import register_run_hook, register_service
from .derive import agent_scopes, node_scopes, register_scopes
from .errors import IdentityError
from .scopes import ScopeError, allowed, covers, narrow, parse_scopes


def _service(project: Any) -> Any:
    from .service import Identity

    return Identity(project)


def _hook(project: Any) -> Any:
    from .hook import IdentityHook

    return IdentityHook(project)


register_service("identity", _service)
register_run_hook("identity", _hook)

_LAZY = {
    "Identity": ".service",
    "IdentityConfig": ".service",
    "IdentityHook": ".hook",
    "Claims": ".tokens",
    "InvalidTokenError": ".tokens",
    "TYP": ".tokens",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentcore_nb.identity' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module, __name__), name)


__all__ = [
    "TYP",
    "Claims",
    "Identity",
    "IdentityConfig",
    "IdentityError",
    "IdentityHook",
    "InvalidTokenError",
    "ScopeError",
    "agent_scopes",
    "allowed",
    "covers",
    "narrow",
    "node_scopes",
    "parse_scopes",
    "register_scopes",
]
