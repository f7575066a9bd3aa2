"""``agentcore identity issue|verify|revoke|rotate|keys|config``: the project's identity tokens.

``issue`` prints the token alone on standard output (its last line) and a summary on standard
error, so ``TOKEN=$(agentcore identity issue ...)`` works. Commands that take a token also read it
from standard input with ``-`` (a token on a command line is visible to other local users).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated

import typer

from ..errors import AgentcoreError
from . import app

identity_app = typer.Typer(
    help="Issue, verify and revoke identity tokens; rotate keys.", no_args_is_help=True
)
app.add_typer(identity_app, name="identity")


def _identity():  # type: ignore[no-untyped-def]
    from ..home import state_dir
    from ..identity.service import Identity

    return Identity(state_dir())


def _token(value: str) -> str:
    if value == "-":
        value = sys.stdin.readline()
    value = value.strip()
    if not value:
        raise AgentcoreError("no token given", hint="pass it as an argument, or '-' to read standard input")
    return value


@identity_app.command("issue")
def issue(
    agent: Annotated[str, typer.Option("--agent", "-a", help="The agent id (the token's subject).")],
    scopes: Annotated[
        list[str] | None,
        typer.Option(
            "--scopes", "-s", help="Scopes, space-separated or repeated (tool:NAME, memory:read:NS, ...)."
        ),
    ] = None,
    ttl: Annotated[
        float | None, typer.Option(help="Lifetime in seconds (default: the config's ttl, 300).")
    ] = None,
    session: Annotated[
        str | None, typer.Option(help="Session id to bind the token to (default: a new one).")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Single use: refused after its first use.")] = False,
    parent: Annotated[
        str | None,
        typer.Option(help="Delegate from this token ('-' reads it from stdin): scopes only narrow."),
    ] = None,
) -> None:
    """Issue a signed token; the token alone is the last line of standard output."""
    ident = _identity()
    token = ident.issue(agent, scopes or [], ttl=ttl, session=session, once=once,
                        parent=_token(parent) if parent is not None else None)  # fmt: skip
    claims = ident.verify(token)
    typer.echo(
        f"issued for {claims.agent} (session {claims.session}), scopes: {' '.join(claims.scopes) or '(none)'}, "
        f"expires in {claims.expires - time.time():.0f}s",
        err=True,
    )
    typer.echo(token)


@identity_app.command("verify")
def verify(
    token: Annotated[str, typer.Argument(help="The token ('-' reads it from standard input).")],
    scope: Annotated[
        str | None,
        typer.Option(help="Also check this scope, as a boundary would (spends a single-use token)."),
    ] = None,
    session: Annotated[str | None, typer.Option(help="The session the token must belong to.")] = None,
) -> None:
    """Exit 0 and print the claims (JSON) when the token is valid; exit 1 and the reason otherwise."""
    ident = _identity()
    value = _token(token)
    if scope is not None:
        claims = ident.authorize(value, scope, session_id=session, require=True)
    else:
        claims = ident.verify(value, session_id=session)
    typer.echo(json.dumps(claims.to_dict(), indent=2, sort_keys=True))


@identity_app.command("revoke")
def revoke(
    session: Annotated[
        str | None, typer.Option(help="Refuse every token of this session from now on.")
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="Refuse this one token ('-' reads it from stdin).")
    ] = None,
) -> None:
    """Revoke a session, or one token, in every process of the project."""
    what = _identity().revoke(session=session, token=_token(token) if token is not None else None)
    typer.echo(f"revoked {what}")


@identity_app.command("rotate")
def rotate() -> None:
    """Make a new signing key; old keys keep verifying until the tokens they signed have expired."""
    ident = _identity()
    kid, retired = ident.rotate()
    typer.echo(f"new signing key {kid}")
    for old in retired:
        typer.echo(f"retired {old} (verifies for {ident.config.max_ttl + ident.config.skew:.0f}s more)")


@identity_app.command("keys")
def keys() -> None:
    """Print the public keys as a JWKS (what verifies this project's tokens)."""
    typer.echo(json.dumps(_identity().jwks(), indent=2, sort_keys=True))


@identity_app.command("config")
def config(
    require_token: Annotated[
        bool | None,
        typer.Option(
            "--require-token/--allow-owner", help="Refuse calls without a token, or trust the local owner."
        ),
    ] = None,
    node_tokens: Annotated[
        bool | None,
        typer.Option("--node-tokens/--no-node-tokens", help="Give every node of a run its own token."),
    ] = None,
    ttl: Annotated[float | None, typer.Option(help="Default token lifetime, seconds.")] = None,
    max_ttl: Annotated[float | None, typer.Option(help="Longest lifetime accepted, seconds.")] = None,
    skew: Annotated[float | None, typer.Option(help="Clock skew allowed, seconds.")] = None,
) -> None:
    """Show the identity settings, changing those given."""
    ident = _identity()
    given = {
        "require_token": require_token,
        "node_tokens": node_tokens,
        "ttl": ttl,
        "max_ttl": max_ttl,
        "skew": skew,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    cfg = ident.configure(**changes) if changes else ident._ensure_config()
    typer.echo(json.dumps(cfg.__dict__, indent=2, sort_keys=True))
