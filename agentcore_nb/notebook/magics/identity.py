"""``%identity whoami|issue|revoke|keys|rotate``: the project's identity tokens from a cell.

``issue`` binds the token to a variable (``token`` unless ``--as NAME``) and shows its claims, never
the token itself: a token printed in a cell would be saved in the notebook file.
"""

from __future__ import annotations

import time
from typing import Any

from ...identity.errors import IdentityError
from .framework import MagicCall, magic
from .tables import table_bundle


def _identity(call: MagicCall) -> Any:
    return call.session.project.services["identity"]


def _token_from(call: MagicCall, name: str) -> str:
    """A variable holding a token (the usual case), or the token text itself."""
    value = call.shell.user_ns.get(name) if name.isidentifier() else None
    if value is None:
        if name.isidentifier():
            raise IdentityError(
                f"no variable '{name}' in the notebook", hint="issue one with %identity issue"
            )
        value = name
    if not isinstance(value, str):
        raise IdentityError(f"'{name}' holds a {type(value).__name__}, not a token")
    return value


def _claims_rows(claims: Any) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = [
        ("agent", claims.agent),
        ("subject", claims.subject),
        ("session", claims.session),
        ("scopes", " ".join(claims.scopes) or "(none)"),
        ("expires in", f"{max(0.0, claims.expires - time.time()):.0f}s"),
        ("token id", claims.jti),
        ("key", claims.key_id),
    ]
    if claims.act:
        rows.insert(2, ("acting for", f"{claims.subject} (delegated: {claims.act})"))
    if claims.once:
        rows.append(("single use", "yes"))
    return rows


@magic(
    "identity",
    help="Identity tokens: whoami, issue, revoke, keys, rotate.",
    epilog="Examples:\n  %identity whoami\n"
    '  %identity issue --agent support-bot --scopes "tool:getOrderStatus memory:read:support" --ttl 300\n'
    "  %identity issue --agent helper --scopes tool:getOrderStatus --parent token --as helper_token\n"
    "  %identity whoami --token helper_token\n  %identity revoke --session SESSION\n  %identity keys",
)
def identity_magic(call: MagicCall) -> Any:
    args = call.args
    identity = _identity(call)
    sub = args.subcommand
    if sub == "whoami":
        if args.token:
            claims = identity.verify(_token_from(call, args.token))
            call.display(table_bundle(("claim", "value"), _claims_rows(claims)), raw=True)
            return None
        cfg = identity.config
        ring = [k for k in identity.key_ring() if not k.get("retired")]
        owner = "refused without a token (require_token)" if identity.require_token else "trusted in-process"
        print(f"local owner of {call.session.project.home} ({owner})")
        print(f"session  {call.session.session_id}")
        print(f"issuer   {cfg.issuer or '(no key yet: made on first issue)'}")
        print(f"key      {ring[-1]['kid'] if ring else '(none)'}")
        print(f"node tokens {'on' if cfg.node_tokens else 'off'}, ttl {cfg.ttl:g}s, skew {cfg.skew:g}s")
        return None
    if sub == "issue":
        if not args.var.isidentifier():
            raise IdentityError(f"--as {args.var!r:.40} is not a variable name")
        parent = _token_from(call, args.parent) if args.parent else None
        session = None if parent else (args.session or call.session.session_id)
        token = identity.issue(args.agent, args.scopes or [], ttl=args.ttl, session=session,
                               once=args.once, parent=parent)  # fmt: skip
        call.define(args.var, token)
        call.metadata["defines"] = [args.var]
        claims = identity.verify(token)
        print(f"issued a token for {claims.agent} into `{args.var}`")
        call.display(table_bundle(("claim", "value"), _claims_rows(claims)), raw=True)
        return None
    if sub == "revoke":
        if (args.session is None) == (args.token is None):
            raise IdentityError("%identity revoke needs --session SESSION or --token VARIABLE")
        what = identity.revoke(session=args.session,
                               token=_token_from(call, args.token) if args.token else None)  # fmt: skip
        print(f"revoked {what}")
        return None
    if sub == "rotate":
        kid, retired = identity.rotate()
        print(f"new signing key {kid}; retired {', '.join(retired) or 'none'}")
        return None
    jwks = identity.jwks()
    by_kid = {k["kid"]: k for k in identity.key_ring()}
    rows = []
    for key in jwks["keys"]:
        entry = by_kid.get(key["kid"], {})
        until = entry.get("verify_until")
        status = (
            "active"
            if not entry.get("retired")
            else f"retired, verifies {max(0, until - time.time()):.0f}s more"
        )
        rows.append((key["kid"], key["alg"], key["crv"], status))
    call.display(table_bundle(("kid", "alg", "curve", "status"), rows), raw=True)
    call.define("_identity_jwks", jwks)
    return None


def _seconds(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"ttl must be a number of seconds, got {text!r}") from None
    return value


_sub = identity_magic.subcommands()
_who = _sub.add_parser("whoami", help="who this kernel acts as, or the claims of a token")
_who.add_argument("--token", "-t", default=None, help="a variable holding a token")
_issue = _sub.add_parser("issue", help="issue a token into a variable")
_issue.add_argument("--agent", "-a", required=True)
_issue.add_argument("--scopes", "-s", action="append", help="space-separated, or repeated")
_issue.add_argument("--ttl", type=_seconds, default=None, help="lifetime in seconds (default 300)")
_issue.add_argument("--session", default=None, help="session id (default: this kernel's)")
_issue.add_argument("--once", action="store_true", help="single use")
_issue.add_argument(
    "--parent", default=None, help="delegate from the token in this variable (narrowing only)"
)
_issue.add_argument("--as", dest="var", default="token", help="variable to store the token in")
_revoke = _sub.add_parser("revoke", help="revoke a session or a token")
_revoke.add_argument("--session", default=None)
_revoke.add_argument("--token", "-t", default=None, help="a variable holding a token")
_sub.add_parser("keys", help="public signing keys (JWKS, also in _identity_jwks)")
_sub.add_parser("rotate", help="make a new signing key")
