"""Inbound auth for every HTTP surface (``agentcore serve``, ``gateway serve-mcp --http``).

A bearer token is required when the server listens beyond loopback, when ``--require-auth`` (or
``[auth] required``) is set, and when the project requires tokens (identity ``require_token``).
Accepted: the project's own identity tokens carrying the surface's scope (``invoke:BUNDLE``,
``tool:*``), or JWTs of an external issuer given by its JWKS URL and audience (AgentCore's
custom-JWT inbound mode; PyJWT's :class:`PyJWKClient`). A missing or bad token is ``401`` with
``WWW-Authenticate`` (RFC 6750), a token without the scope ``403``; the token is never logged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio

from ..errors import AgentcoreError, NotPermittedError
from .config import LOOPBACK, AuthConfig

#: Paths a load balancer or container health check calls without a token (they reveal nothing).
OPEN_PATHS = ("/ping",)
UNKNOWN_KEY = "unknown signing key"
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"]


class Refused(AgentcoreError):
    def __init__(self, status: int, error: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.error = error
        self.reason = reason


def needs_token(host: str, auth: AuthConfig, project: Any) -> bool:
    if host not in LOOPBACK or auth.required:
        return True
    try:
        return bool(getattr(project.services["identity"], "require_token", False))
    except KeyError:
        return False


class ExternalIssuer:
    """JWTs of an external identity provider, checked against its JWKS (fetched and cached)."""

    def __init__(self, jwks_url: str, audience: str, issuer: str = "") -> None:
        import jwt

        self.jwt = jwt
        self.client = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=10)
        self.audience = audience
        self.issuer = issuer

    def verify(self, token: str) -> dict[str, Any]:
        jwt = self.jwt
        try:
            key = self.client.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError:
            raise Refused(401, "invalid_token", "the issuer's keys (JWKS) cannot be fetched") from None
        except (jwt.PyJWKClientError, jwt.InvalidTokenError):
            raise Refused(401, "invalid_token", UNKNOWN_KEY) from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer or None,
                options={"require": ["exp", "aud"]},
                leeway=30,
            )
        except jwt.ExpiredSignatureError:
            raise Refused(401, "invalid_token", "expired") from None
        except jwt.InvalidAudienceError:
            raise Refused(401, "invalid_token", "wrong audience") from None
        except jwt.InvalidIssuerError:
            raise Refused(401, "invalid_token", "wrong issuer") from None
        except jwt.InvalidSignatureError:
            raise Refused(401, "invalid_token", "bad signature") from None
        except jwt.InvalidTokenError as exc:
            raise Refused(401, "invalid_token", f"invalid token ({type(exc).__name__})") from None
        return claims


def verifier(auth: AuthConfig, project: Any, scope: str) -> Callable[[str], Any]:
    """``check(token)``: the claims, or :class:`Refused` (project token first, then the issuer)."""
    from ..identity.tokens import InvalidTokenError

    external = ExternalIssuer(auth.jwks_url, auth.audience, auth.issuer) if auth.jwks_url else None

    def check(token: str) -> Any:
        identity = project.services["identity"]
        try:
            identity.verify(token)
        except InvalidTokenError as exc:
            if external is not None:  # not one of ours: the issuer's, or neither
                try:
                    return external.verify(token)
                except Refused as refused:
                    if refused.reason != UNKNOWN_KEY:
                        raise
            raise Refused(401, "invalid_token", exc.reason) from None
        except AgentcoreError as exc:
            raise Refused(401, "invalid_token", str(exc).splitlines()[0]) from None
        try:
            return identity.authorize(token, scope, require=True)
        except NotPermittedError:
            raise Refused(403, "insufficient_scope", f"the token does not grant {scope}") from None

    return check


class BearerAuth:
    """ASGI middleware: every HTTP request but :data:`OPEN_PATHS` shows a bearer token first."""

    def __init__(self, app: Any, check: Callable[[str], Any], *, realm: str, scope: str) -> None:
        self.app = app
        self.check = check
        self.realm = realm
        self.scope = scope

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        header = ""
        for name, value in scope.get("headers") or ():
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        kind, _, token = header.partition(" ")
        token = token.strip()
        try:
            if kind.lower() != "bearer" or not token:
                raise Refused(401, "", "a bearer token is required (Authorization: Bearer TOKEN)")
            claims = await anyio.to_thread.run_sync(self.check, token)
        except Refused as exc:
            await self._refuse(send, exc)
            return
        scope.setdefault("state", {})["auth_claims"] = claims
        await self.app(scope, receive, send)

    async def _refuse(self, send: Any, exc: Refused) -> None:
        challenge = f'Bearer realm="{self.realm}"'
        if exc.error:
            reason = exc.reason.replace('"', "'")
            challenge += f', error="{exc.error}", error_description="{reason}"'
        if exc.status == 403:
            challenge += f', scope="{self.scope}"'
        body = json.dumps(
            {"error": "Unauthorized" if exc.status == 401 else "Forbidden", "details": exc.reason}
        )
        await send(
            {
                "type": "http.response.start",
                "status": exc.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", challenge.encode("latin-1", "replace")),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})


def protect(app: Any, host: str, auth: AuthConfig, project: Any, *, scope: str, realm: str) -> Any:
    """``app`` behind :class:`BearerAuth` when a token is needed (or an external issuer is set)."""
    if not (needs_token(host, auth, project) or auth.jwks_url):
        return app
    return BearerAuth(app, verifier(auth, project, scope), realm=realm, scope=scope)
