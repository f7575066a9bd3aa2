"""The token format and the checks of RFC 8725 that need no state: header, signature, claims.

Header: ``{"alg": "EdDSA", "typ": "agentcore-id+jwt", "kid": KID}`` and nothing that names a key
by itself (``jwk``, ``jku``, ``x5u``, ``x5c``) or demands other processing (``crit``, ``b64``).
Claims: ``iss sub aud sid scope iat nbf exp jti`` (all required), ``act`` (RFC 8693: the current
actor; nested ``act`` values are prior actors, informational only), ``once`` (single use).

Every failure raises :class:`InvalidTokenError` whose ``reason`` is a fixed phrase: it never
echoes the token or a value taken from it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from ..errors import NotPermittedError
from .keys import KID_RE, PublicKey
from .scopes import ScopeError, allowed, parse_scopes

TYP = "agentcore-id+jwt"
ALGORITHMS = frozenset({"EdDSA"})
REQUIRED = ("iss", "sub", "aud", "sid", "scope", "iat", "nbf", "exp", "jti")
MAX_TOKEN = 8192
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
_JTI = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_FORBIDDEN_HEADERS = ("jwk", "jku", "x5u", "x5c", "crit", "b64")
_ALGORITHM_IMPLS = {name: jwt.algorithms.get_default_algorithms()[name] for name in ALGORITHMS}
_SIGNATURE_CHARS = {"EdDSA": 86}  # 64 bytes, base64url without padding


class InvalidTokenError(NotPermittedError):
    """A token failed verification; ``reason`` says which check (e.g. ``expired``)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"invalid token: {reason}")


@dataclass(frozen=True, slots=True)
class Claims:
    """The verified claims of a token."""

    issuer: str
    subject: str
    audience: tuple[str, ...]
    session: str
    scopes: tuple[str, ...]
    issued_at: float
    not_before: float
    expires: float
    jti: str
    key_id: str
    act: dict[str, Any] | None = None
    once: bool = False

    @property
    def agent(self) -> str:
        """Who is acting: the outermost ``act`` subject when delegated, else ``sub``."""
        return str(self.act["sub"]) if self.act else self.subject

    def allows(self, scope: str) -> bool:
        """Top-level ``scope`` claim only; nested ``act`` claims never grant anything."""
        return allowed(self.scopes, scope)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": self.audience[0] if len(self.audience) == 1 else list(self.audience),
            "sid": self.session,
            "scope": " ".join(self.scopes),
            "iat": self.issued_at,
            "nbf": self.not_before,
            "exp": self.expires,
            "jti": self.jti,
        }
        if self.act:
            out["act"] = self.act
        if self.once:
            out["once"] = True
        return out


def _b64(segment: str, what: str = "malformed token") -> bytes:
    if not _SEGMENT.match(segment):
        raise InvalidTokenError(what)
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise InvalidTokenError(what) from None


def read_header(token: object) -> tuple[dict[str, Any], str]:
    """Check the header before anything is looked up; returns (header, kid)."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN or token.count(".") != 2:
        raise InvalidTokenError("malformed token")
    try:
        header = json.loads(_b64(token[: token.index(".")]))
    except ValueError:
        raise InvalidTokenError("malformed token") from None
    if not isinstance(header, dict):
        raise InvalidTokenError("malformed token")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        raise InvalidTokenError("algorithm not allowed")
    if header.get("typ") != TYP:
        raise InvalidTokenError("wrong token type")
    for name in _FORBIDDEN_HEADERS:
        if name in header:
            raise InvalidTokenError(f"header '{name}' is not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not KID_RE.match(kid):
        raise InvalidTokenError("malformed key id")
    return header, kid


def check_signature(token: str, key: PublicKey, header: dict[str, Any]) -> bytes:
    """The payload bytes if the signature is the key's. The algorithm comes from the key (PyJWT's
    implementation of it), never from the header; the signature must be in its one canonical form."""
    if header["alg"] != key.alg:
        raise InvalidTokenError("algorithm does not match the key")
    signing_input, _, signature = token.rpartition(".")
    payload = signing_input[signing_input.index(".") + 1 :]
    if not _SEGMENT.match(payload):
        raise InvalidTokenError("malformed token")
    if (
        len(signature) != _SIGNATURE_CHARS[key.alg]
        or not _SEGMENT.match(signature)
        or signature[-1] not in "AQgw"  # unused low bits set: another spelling of the same bytes
    ):
        raise InvalidTokenError("bad signature")
    raw = base64.urlsafe_b64decode(signature + "==")
    if not _ALGORITHM_IMPLS[key.alg].verify(signing_input.encode("ascii"), key.key, raw):
        raise InvalidTokenError("bad signature")
    return _b64(payload)


def _number(claims: dict[str, Any], name: str) -> float:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidTokenError(f"claim '{name}' is not a number")
    return float(value)


def _text(claims: dict[str, Any], name: str, limit: int = 256) -> str:
    value = claims[name]
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InvalidTokenError(f"claim '{name}' is not a valid string")
    return value


def check_claims(
    payload: bytes,
    key: PublicKey,
    *,
    audience: str,
    issuer_ok: Callable[[str], bool],
    now: float,
    skew: float,
    max_ttl: float,
) -> Claims:
    """``iss`` (and that the key is that issuer's), ``aud``, times with ``skew``, shapes of the rest."""
    try:
        claims = json.loads(payload)
    except ValueError:
        raise InvalidTokenError("malformed token") from None
    if not isinstance(claims, dict):
        raise InvalidTokenError("malformed token")
    for name in REQUIRED:
        if name not in claims:
            raise InvalidTokenError(f"missing claim '{name}'")
    iss = _text(claims, "iss")
    if not issuer_ok(iss):
        raise InvalidTokenError("wrong issuer")
    if iss != key.issuer:
        raise InvalidTokenError("key not of that issuer")
    aud = claims["aud"]
    auds = (aud,) if isinstance(aud, str) else tuple(aud) if isinstance(aud, list) else ()
    if not auds or not all(isinstance(a, str) for a in auds):
        raise InvalidTokenError("missing audience")
    if audience not in auds:
        raise InvalidTokenError("wrong audience")
    iat, nbf, exp = _number(claims, "iat"), _number(claims, "nbf"), _number(claims, "exp")
    if now > exp + skew:
        raise InvalidTokenError("expired")
    if nbf > now + skew:
        raise InvalidTokenError("not valid yet")
    if iat > now + skew:
        raise InvalidTokenError("issued in the future")
    if exp - iat > max_ttl:
        raise InvalidTokenError("lifetime longer than allowed")
    if key.retired is not None and iat > key.retired + skew:
        raise InvalidTokenError("signed by a retired key")
    jti = _text(claims, "jti", 64)
    if not _JTI.match(jti):
        raise InvalidTokenError("claim 'jti' is not a valid id")
    scope = claims["scope"]
    scopes = _scope_claim(scope) if isinstance(scope, str) and len(scope) <= 16384 else None
    if scopes is None:
        raise InvalidTokenError("claim 'scope' is malformed")
    act = claims.get("act")
    if act is not None and (
        not isinstance(act, dict) or not isinstance(act.get("sub"), str) or not act["sub"]
    ):
        raise InvalidTokenError("claim 'act' is malformed")
    once = claims.get("once", False)
    if not isinstance(once, bool):
        raise InvalidTokenError("claim 'once' is not a boolean")
    return Claims(
        issuer=iss,
        subject=_text(claims, "sub"),
        audience=auds,
        session=_text(claims, "sid"),
        scopes=scopes,
        issued_at=iat,
        not_before=nbf,
        expires=exp,
        jti=jti,
        key_id=key.kid,
        act=act,
        once=once,
    )


@functools.lru_cache(maxsize=1024)
def _scope_claim(scope: str) -> tuple[str, ...] | None:
    """The scopes of a claim in canonical form (``"a b c"``), else None; cached: nodes repeat them."""
    try:
        scopes = parse_scopes(scope)
    except ScopeError:
        return None
    return scopes if " ".join(scopes) == scope else None


def sign(claims: dict[str, Any], kid: str, private_key: Any) -> str:
    return jwt.encode(claims, private_key, algorithm="EdDSA", headers={"typ": TYP, "kid": kid})


__all__ = [
    "ALGORITHMS",
    "TYP",
    "Claims",
    "InvalidTokenError",
    "check_claims",
    "check_signature",
    "read_header",
    "sign",
]
