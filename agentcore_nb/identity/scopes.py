"""Scopes: what a token allows, how one scope covers another, and how a parent's scopes narrow.

A scope is ``KIND:PART[:PART...]`` with no spaces. Known shapes::

    tool:NAME                   one gateway tool (``tool:*`` every tool)
    memory:read:NAMESPACE       read a namespace and everything under it (``support`` covers
    memory:write:NAMESPACE      ``support/refunds``); ``memory:read:*`` every namespace
    code:exec                   run code in the sandboxed interpreter
    net:HOST:PORT               let sandboxed code reach HOST:PORT (``net:HOST:*`` any port)

Other rooms may use scopes of their own shape; those match exactly, or by a trailing ``*`` part.
A ``*`` only ever grants: a requested ``tool:*`` is covered only by a granted ``tool:*``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from .errors import IdentityError

MAX_SCOPES = 256
_SCOPE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}(:[A-Za-z0-9_.@/*\[\]\-]{1,200})+$")
_NS_PART = re.compile(r"^[A-Za-z0-9_.\-]+$")
_MEMORY = ("memory:read:", "memory:write:")


class ScopeError(IdentityError):
    """A scope is malformed (spaces, control characters, empty parts, ``..`` in a namespace)."""


def check_scope(scope: object) -> str:
    """``scope`` if well-formed, else :class:`ScopeError` (the message shows it safely quoted)."""
    if not isinstance(scope, str) or len(scope) > 256 or not _SCOPE_RE.match(scope):
        raise ScopeError(
            f"invalid scope {_shown(scope)}",
            hint="scopes look like tool:NAME, memory:read:NAMESPACE, code:exec, net:HOST:PORT",
        )
    if scope.startswith(_MEMORY) and _namespace_parts(scope.split(":", 2)[2]) is None:
        raise ScopeError(
            f"invalid scope {_shown(scope)}", hint="namespace parts are names, never '.' or '..'"
        )
    return scope


def parse_scopes(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Scopes from ``"a b"`` or ``["a", "b c"]``: validated, de-duplicated, in first-seen order."""
    if value is None:
        return ()
    if isinstance(value, str):
        return _parse_text(value) if len(value) <= 16384 else _parse(value.split())
    return _parse([s for v in value for s in _split(v)])


@functools.lru_cache(maxsize=1024)
def _parse_text(value: str) -> tuple[str, ...]:
    return _parse(value.split())  # a ScopeError is raised, not cached


def _parse(items: list[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for item in items:
        seen[check_scope(item)] = None
    if len(seen) > MAX_SCOPES:
        raise ScopeError(f"too many scopes ({len(seen)}), at most {MAX_SCOPES}")
    return tuple(seen)


def _split(value: object) -> list[str]:
    if not isinstance(value, str):
        raise ScopeError(f"invalid scope {_shown(value)}", hint="scopes are strings")
    return value.split() or [value]


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else type(value).__name__
    return repr(text[:80]) if isinstance(value, str) else f"of type {text}"


def _namespace_parts(ns: str) -> tuple[str, ...] | None:
    """``support/refunds`` -> parts; a trailing ``/`` (a prefix query) is dropped; None if unsafe."""
    if ns == "*":
        return ("*",)
    trimmed = ns[:-1] if ns.endswith("/") else ns
    parts = tuple(trimmed.split("/"))
    for p in parts:
        if not _NS_PART.match(p) or p in (".", ".."):
            return None
    return parts


def covers(granted: str, requested: str) -> bool:
    """Does holding ``granted`` permit ``requested``?"""
    if granted == requested:
        return True
    if granted.startswith(_MEMORY) and requested.startswith(_MEMORY):
        g_op, g_ns = granted.split(":", 2)[1:]
        r_op, r_ns = requested.split(":", 2)[1:]
        if g_op != r_op:
            return False
        g_parts, r_parts = _namespace_parts(g_ns), _namespace_parts(r_ns)
        if g_parts is None or r_parts is None:
            return False
        if g_parts == ("*",):
            return True
        if r_parts == ("*",):
            return False
        return r_parts[: len(g_parts)] == g_parts
    if granted.endswith(":*"):
        head = granted[:-1]  # "tool:" / "net:api.example.com:"
        rest = requested[len(head) :] if requested.startswith(head) else ""
        return bool(rest) and "*" not in rest
    return False


def allowed(granted: Iterable[str], requested: str) -> bool:
    return any(covers(g, requested) for g in granted)


def narrow(parent: Iterable[str], wanted: Iterable[str]) -> tuple[str, ...]:
    """The meet of two scope sets: each wanted scope the parent covers, and each parent scope
    inside a broader wanted one (``tool:*`` wanted under ``tool:a tool:b`` gives ``tool:a tool:b``).
    Never wider than ``parent``."""
    parent = tuple(parent)
    out: dict[str, None] = {}
    for w in wanted:
        if allowed(parent, w):
            out[w] = None
        else:
            for p in parent:
                if covers(w, p):
                    out[p] = None
    return tuple(out)


def escalations(parent: Iterable[str], wanted: Iterable[str]) -> list[str]:
    """Wanted scopes the parent does not cover (an attenuation asking for these is refused)."""
    parent = tuple(parent)
    return [w for w in wanted if not allowed(parent, w)]


__all__ = ["ScopeError", "allowed", "check_scope", "covers", "escalations", "narrow", "parse_scopes"]
