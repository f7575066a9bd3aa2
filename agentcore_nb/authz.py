"""The identity seam: every boundary (gateway, memory, interpreter) asks one question here.

``authorize(services, token, scope)`` returns normally when ``scope`` is permitted for ``token``
and raises :class:`NotPermittedError` otherwise. Scopes look like ``tool:getOrderStatus``,
``memory:read:support/refunds``, ``memory:write:support``, ``code:exec``, ``net:api.example.com:443``.

Without an ``identity`` service the policy is allow-all; the identity component installs the real
verifier as the ``identity`` service (an object with this module's :class:`Authorizer` shape).
Its policy for ``token=None`` (the trusted local owner unless ``require_token``) and the token
checks are in ``docs/security.md``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from .errors import NotPermittedError

#: Ids of single-use tokens spent inside the current boundary call (see :func:`one_call`).
SPENT_IN_CALL: ContextVar[set[str] | None] = ContextVar("agentcore_spent_in_call", default=None)


@contextmanager
def one_call() -> Iterator[None]:
    """One boundary call: a single-use token is spent once for all of it, however many scopes it
    checks (``code:exec`` and ``net:HOST:PORT``; each namespace of a batch) and whatever boundary it
    crosses inside (the gateway's built-in interpreter tools). Nested calls join the outer one;
    the context (and so the spent ids) follows the call into worker threads and event loops."""
    if SPENT_IN_CALL.get() is not None:
        yield
        return
    reset = SPENT_IN_CALL.set(set())
    try:
        yield
    finally:
        SPENT_IN_CALL.reset(reset)


class Authorizer(Protocol):
    def authorize(self, token: str | None, scope: str, *, session_id: str | None = None) -> Any:
        """Return the verified claims (or None) or raise :class:`NotPermittedError`."""
        ...


class AllowAll:
    """The policy until identity is configured: every scope is permitted."""

    def authorize(self, token: str | None, scope: str, *, session_id: str | None = None) -> None:
        return None


ALLOW_ALL = AllowAll()


def authorizer(services: Mapping[str, Any] | None) -> Authorizer:
    if services is not None:
        try:
            found = services["identity"]
        except KeyError:
            found = None
        if found is not None and hasattr(found, "authorize"):
            return found  # type: ignore[no-any-return]
    return ALLOW_ALL


def authorize(
    services: Mapping[str, Any] | None, token: str | None, scope: str, *, session_id: str | None = None
) -> Any:
    """Check ``scope`` for ``token``; raises :class:`NotPermittedError` (``not permitted: SCOPE``)."""
    return authorizer(services).authorize(token, scope, session_id=session_id)


__all__ = [
    "ALLOW_ALL",
    "SPENT_IN_CALL",
    "AllowAll",
    "Authorizer",
    "NotPermittedError",
    "authorize",
    "authorizer",
    "one_call",
]
