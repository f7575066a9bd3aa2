"""Fixtures: a real project with its identity service, and an attacker's toolkit of real JWTs.

The attacker crafts tokens with PyJWT / cryptography / hmac as an outsider would (own keys, our
public key, tampered bytes). ``insider`` signs with the project's real private key, read from
its key file: the claims checks must hold even for correctly signed tokens with bad claims.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from agentcore_nb.identity import TYP, Identity
from agentcore_nb.project import Project


@pytest.fixture
def project(agentcore_home: Path):
    with Project(agentcore_home) as p:
        yield p


@pytest.fixture
def identity(project: Project) -> Identity:
    ident = project.services["identity"]
    ident.jwks()  # make the first key
    return ident


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def bad_signature(token: str) -> str:
    """The token with its signature's first character changed: always other bytes. (Overwriting
    the tail with a constant, e.g. ``token[:-3] + "AAA"``, gives the very same token once in
    16,384 tokens, and then the "forgery" verifies.)"""
    head, _, sig = token.rpartition(".")
    return f"{head}.{'B' if sig[0] == 'A' else 'A'}{sig[1:]}"


class Attacker:
    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    @property
    def kid(self) -> str:
        return self.identity.jwks()["keys"][-1]["kid"]

    def claims(self, **overrides: Any) -> dict[str, Any]:
        cfg = self.identity.config
        now = int(time.time())
        claims = {"iss": cfg.issuer, "sub": "mallory", "aud": cfg.audience, "sid": "session-a",
                  "scope": "tool:getOrderStatus", "iat": now, "nbf": now, "exp": now + 120,
                  "jti": uuid.uuid4().hex}  # fmt: skip
        for k, v in overrides.items():
            if v is DROP:
                claims.pop(k, None)
            else:
                claims[k] = v
        return claims

    def header(self, **overrides: Any) -> dict[str, Any]:
        header = {"alg": "EdDSA", "typ": TYP, "kid": self.kid}
        for k, v in overrides.items():
            if v is DROP:
                header.pop(k, None)
            else:
                header[k] = v
        return header

    def private_key(self) -> Any:
        kid = self.kid
        pem = (self.identity.dir / "private" / f"{kid}.pem").read_bytes()
        return serialization.load_pem_private_key(pem, password=None)

    def insider(self, header: dict[str, Any] | None = None, **claims: Any) -> str:
        """Signed with the project's real key: only the header or claims can be wrong."""
        return self.signed(self.header() if header is None else header, self.claims(**claims))

    def signed(self, header: dict[str, Any], claims: dict[str, Any], key: Any = None) -> str:
        h = b64(json.dumps(header, separators=(",", ":")).encode())
        p = b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = (key or self.private_key()).sign(f"{h}.{p}".encode())
        return f"{h}.{p}.{b64(sig)}"

    def raw(self, header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
        """Hand-assembled compact JWS (what PyJWT would refuse to produce)."""
        h = b64(json.dumps(header, separators=(",", ":")).encode())
        p = b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{h}.{p}.{b64(signature)}"


DROP = object()


@pytest.fixture
def attacker(identity: Identity) -> Attacker:
    return Attacker(identity)
