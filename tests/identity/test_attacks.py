"""The attack suite: each test tries one attack with a real token and expects the precise refusal.

Every refusal is ``not permitted: SCOPE (reason)`` at a boundary and never contains the token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agentcore_nb.authz import authorize
from agentcore_nb.errors import NotPermittedError
from agentcore_nb.identity import Identity, InvalidTokenError
from agentcore_nb.project import Project

from .conftest import DROP, Attacker, b64, bad_signature, unb64

SCOPE = "tool:getOrderStatus"


def refused(identity: Identity, token: str, reason: str, scope: str = SCOPE, **kw) -> None:
    with pytest.raises(NotPermittedError) as err:
        identity.authorize(token, scope, **kw)
    assert str(err.value) == f"not permitted: {scope} ({reason})"
    assert not token or token not in str(err.value)


def test_a_well_formed_token_passes(identity: Identity, attacker: Attacker) -> None:
    claims = identity.authorize(attacker.insider(), SCOPE, session_id="session-a")
    assert claims is not None and claims.subject == "mallory" and claims.scopes == (SCOPE,)


# ------------------------------------------------------------------ time
def test_expired(identity: Identity, attacker: Attacker) -> None:
    now = int(time.time())
    refused(identity, attacker.insider(iat=now - 600, nbf=now - 600, exp=now - 300), "expired")


def test_nbf_in_the_future(identity: Identity, attacker: Attacker) -> None:
    now = int(time.time())
    refused(identity, attacker.insider(nbf=now + 600, exp=now + 900), "not valid yet")


def test_just_past_the_skew(identity: Identity, attacker: Attacker) -> None:
    skew = identity.config.skew

    def now() -> int:  # read for each token: the margins (5 s, 2-3 s) must not shrink as the test runs
        return int(time.time())

    # within the skew: still accepted (clocks differ a little) ...
    t = now()
    identity.authorize(attacker.insider(iat=t - 60, nbf=t - 60, exp=int(t - skew / 2)), SCOPE)
    t = now()
    identity.authorize(attacker.insider(nbf=int(t + skew / 2)), SCOPE)
    # ... just past it: refused
    t = now()
    refused(identity, attacker.insider(iat=t - 60, nbf=t - 60, exp=int(t - skew - 2)), "expired")
    t = now()
    refused(identity, attacker.insider(nbf=int(t + skew + 3), exp=t + 300), "not valid yet")
    t = now()
    refused(identity, attacker.insider(iat=int(t + skew + 3), exp=t + 300), "issued in the future")


def test_lifetime_longer_than_the_maximum(identity: Identity, attacker: Attacker) -> None:
    now = int(time.time())
    refused(identity, attacker.insider(exp=now + 30 * 24 * 3600), "lifetime longer than allowed")


# ------------------------------------------------------------------ audience and issuer
def test_wrong_audience(identity: Identity, attacker: Attacker) -> None:
    refused(identity, attacker.insider(aud="urn:someone-else"), "wrong audience")
    refused(identity, attacker.insider(aud=["urn:a", "urn:b"]), "wrong audience")


def test_missing_audience(identity: Identity, attacker: Attacker) -> None:
    refused(identity, attacker.insider(aud=DROP), "missing claim 'aud'")
    refused(identity, attacker.insider(aud=[]), "missing audience")
    refused(identity, attacker.insider(aud=7), "missing audience")


def test_wrong_issuer(identity: Identity, attacker: Attacker) -> None:
    refused(identity, attacker.insider(iss="urn:agentcore-nb:evil"), "wrong issuer")
    refused(identity, attacker.insider(iss=DROP), "missing claim 'iss'")


def test_key_not_of_that_issuer(identity: Identity, attacker: Attacker, tmp_path) -> None:
    """A second project is trusted for its own tokens; its key cannot vouch for ours."""
    with Project(tmp_path / "partner") as partner:
        other: Identity = partner.services["identity"]
        identity.trust(other.config.issuer or other._ensure_config().issuer, other.jwks())
        ours = identity.config
        # the partner's own token (for our audience) is accepted ...
        theirs = attacker.signed(
            {"alg": "EdDSA", "typ": attacker.header()["typ"], "kid": other.jwks()["keys"][0]["kid"]},
            attacker.claims(iss=other.config.issuer),
            key=_private(other),
        )
        assert identity.authorize(theirs, SCOPE).issuer == other.config.issuer
        # ... but its key signing a token that claims to be from our issuer is not
        forged = attacker.signed(
            {"alg": "EdDSA", "typ": attacker.header()["typ"], "kid": other.jwks()["keys"][0]["kid"]},
            attacker.claims(iss=ours.issuer),
            key=_private(other),
        )
        refused(identity, forged, "key not of that issuer")
        # and our key cannot sign for the partner either
        refused(identity, attacker.insider(iss=other.config.issuer), "key not of that issuer")


def _private(ident: Identity):
    kid = ident.jwks()["keys"][-1]["kid"]
    return serialization.load_pem_private_key((ident.dir / "private" / f"{kid}.pem").read_bytes(), None)


def test_own_key_with_our_kid(identity: Identity, attacker: Attacker) -> None:
    """An attacker's own Ed25519 key, our kid in the header: the signature does not verify."""
    token = attacker.signed(attacker.header(), attacker.claims(), key=Ed25519PrivateKey.generate())
    refused(identity, token, "bad signature")


# ------------------------------------------------------------------ tampering
def test_one_flipped_bit_in_the_payload(identity: Identity, attacker: Attacker) -> None:
    token = attacker.insider()
    h, p, s = token.split(".")
    raw = bytearray(unb64(p))
    for i in range(len(raw)):  # every byte, a different bit each time
        flipped = bytearray(raw)
        flipped[i] ^= 1 << (i % 8)
        bad = f"{h}.{b64(bytes(flipped))}.{s}"
        with pytest.raises(NotPermittedError, match=r"\((bad signature|malformed token)\)$"):
            identity.authorize(bad, SCOPE)


def test_one_flipped_bit_in_the_signature(identity: Identity, attacker: Attacker) -> None:
    token = attacker.insider()
    h, p, s = token.split(".")
    sig = bytearray(unb64(s))
    for i in range(len(sig)):
        flipped = bytearray(sig)
        flipped[i] ^= 1 << (i % 8)
        refused(identity, f"{h}.{p}.{b64(bytes(flipped))}", "bad signature")
    refused(identity, f"{h}.{p}.", "bad signature")
    # the same 64 bytes spelled differently (unused low bits of the last character set)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    same_bytes = f"{h}.{p}.{s[:-1]}{alphabet[alphabet.index(s[-1]) + 1]}"
    assert unb64(same_bytes.rsplit(".", 1)[1]) == unb64(s)
    refused(identity, same_bytes, "bad signature")
    refused(identity, f"{h}.{p}.{s[:-4]}", "bad signature")


def test_alg_none(identity: Identity, attacker: Attacker) -> None:
    for alg in ("none", "None", "NONE", "nOnE"):
        token = attacker.raw(attacker.header(alg=alg), attacker.claims())
        refused(identity, token, "algorithm not allowed")
    # also PyJWT's own unsecured token (typ JWT, no kid)
    refused(identity, jwt.encode(attacker.claims(), None, algorithm="none"), "algorithm not allowed")
    refused(identity, attacker.raw(attacker.header(alg=DROP), attacker.claims()), "algorithm not allowed")


def test_hs256_signed_with_the_public_key(identity: Identity, attacker: Attacker) -> None:
    """The classic key-confusion attack: the public key (every public form of it) as HMAC secret."""
    jwk = identity.jwks()["keys"][-1]
    public = attacker.private_key().public_key()
    secrets = [
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        json.dumps(jwk).encode(),
        jwk["x"].encode(),
    ]
    for alg, digest in (("HS256", hashlib.sha256), ("HS512", hashlib.sha512)):
        for secret in secrets:
            header = attacker.header(alg=alg)
            h = b64(json.dumps(header).encode())
            p = b64(json.dumps(attacker.claims()).encode())
            sig = hmac.new(secret, f"{h}.{p}".encode(), digest).digest()
            refused(identity, f"{h}.{p}.{b64(sig)}", "algorithm not allowed")


def test_an_algorithm_off_the_list(identity: Identity, attacker: Attacker) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for alg, key in (("ES256", ec_key), ("RS256", rsa_key), ("PS256", rsa_key)):
        token = jwt.encode(attacker.claims(), key, algorithm=alg, headers=attacker.header(alg=alg))
        refused(identity, token, "algorithm not allowed")
    # a correctly signed token that names another algorithm in its header
    refused(identity, attacker.insider(attacker.header(alg="Ed25519")), "algorithm not allowed")
    refused(identity, attacker.insider(attacker.header(alg=["EdDSA"])), "algorithm not allowed")


def test_wrong_typ(identity: Identity, attacker: Attacker) -> None:
    for typ in ("JWT", "at+jwt", "agentcore-id+JWT", "", None):
        refused(identity, attacker.insider(attacker.header(typ=typ)), "wrong token type")
    refused(identity, attacker.insider(attacker.header(typ=DROP)), "wrong token type")


def test_keys_named_in_the_header_are_not_trusted(identity: Identity, attacker: Attacker) -> None:
    """An embedded ``jwk`` / ``jku`` / ``x5u`` must never pick the verification key."""
    mine = Ed25519PrivateKey.generate()
    x = b64(mine.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    for name, value in (
        ("jwk", {"kty": "OKP", "crv": "Ed25519", "x": x}),
        ("jku", "http://127.0.0.1:9/jwks.json"),
        ("x5u", "http://127.0.0.1:9/cert.pem"),
        ("crit", ["exp"]),
        ("b64", False),
    ):
        token = attacker.signed(attacker.header(**{name: value}), attacker.claims(), key=mine)
        refused(identity, token, f"header '{name}' is not accepted")


def test_unknown_kid(identity: Identity, attacker: Attacker) -> None:
    refused(identity, attacker.insider(attacker.header(kid="AAAAAAAAAAAAAAAA")), "unknown key id")


def test_kid_with_path_or_injection_characters(identity: Identity, attacker: Attacker) -> None:
    real = attacker.kid
    assert (identity.dir / "private" / f"{real}.pem").exists()
    for kid in (
        f"../private/{real}",
        f"../../identity/private/{real}.pem",
        f"{real}.pem",
        "/etc/passwd",
        "..",
        f"{real}\x00",
        f"{real}' OR '1'='1",
        f"{real}%2e%2e%2f",
        "$(touch /tmp/pwned)",
        "a" * 65,
        "short",
        "",
        42,
        [real],
        None,
    ):
        refused(identity, attacker.insider(attacker.header(kid=kid)), "malformed key id")
    refused(identity, attacker.insider(attacker.header(kid=DROP)), "malformed key id")


def test_malformed_tokens(identity: Identity, attacker: Attacker) -> None:
    good = attacker.insider()
    for bad in (
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        good + ".x",
        "!!!.???.***",
        "x" * 9000,
        good.replace(".", ". ", 1),
    ):
        refused(identity, bad, "malformed token")
    h, p, s = good.split(".")
    refused(identity, f"{b64(b'[1,2]')}.{p}.{s}", "malformed token")
    with pytest.raises(NotPermittedError, match=r"\(malformed token\)$"):
        identity.authorize(123, SCOPE)  # type: ignore[arg-type]


def test_bad_claim_shapes_signed_correctly(identity: Identity, attacker: Attacker) -> None:
    refused(identity, attacker.insider(exp="tomorrow"), "claim 'exp' is not a number")
    refused(identity, attacker.insider(exp=True), "claim 'exp' is not a number")
    for scope in (
        "tool:getOrderStatus  tool:b",
        "tool:getOrderStatus\n",
        " tool:getOrderStatus",
        "tool:a tool:a",
    ):
        refused(identity, attacker.insider(scope=scope), "claim 'scope' is malformed")
    refused(identity, attacker.insider(scope=["tool:getOrderStatus"]), "claim 'scope' is malformed")
    refused(identity, attacker.insider(jti="../../etc/passwd"), "claim 'jti' is not a valid id")
    refused(identity, attacker.insider(sid=""), "claim 'sid' is not a valid string")
    for name in ("sub", "sid", "scope", "iat", "nbf", "exp", "jti"):
        refused(identity, attacker.insider(**{name: DROP}), f"missing claim '{name}'")
    refused(identity, attacker.insider(act="admin"), "claim 'act' is malformed")
    refused(identity, attacker.insider(once="yes"), "claim 'once' is not a boolean")


# ------------------------------------------------------------------ scopes
def test_scope_escalation_at_issuance(identity: Identity) -> None:
    parent = identity.issue("planner", "tool:getOrderStatus memory:read:support/refunds", ttl=60)
    for wider, first in (
        ("tool:refundOrder", "tool:refundOrder"),
        ("tool:*", "tool:*"),
        ("tool:getOrderStatus code:exec", "code:exec"),
        ("memory:read:support", "memory:read:support"),
        ("memory:read:*", "memory:read:*"),
        ("memory:write:support/refunds", "memory:write:support/refunds"),
    ):
        with pytest.raises(NotPermittedError) as err:
            identity.delegate(parent, "helper", wider)
        assert str(err.value) == f"not permitted: {first} (not granted to the parent token)"
        with pytest.raises(NotPermittedError):
            identity.issue("helper", wider, parent=parent)
    narrower = identity.delegate(parent, "helper", "memory:read:support/refunds/2024")
    assert identity.verify(narrower).scopes == ("memory:read:support/refunds/2024",)
    # a delegated token never outlives its parent
    assert (
        identity.verify(identity.delegate(parent, "helper", [], ttl=3000)).expires
        <= identity.verify(parent).expires
    )


def test_scope_escalation_at_use(identity: Identity) -> None:
    token = identity.issue(
        "bot", "tool:getOrderStatus memory:read:support net:api.example.com:443", ttl=60, session="s1"
    )
    for scope in (
        "tool:refundOrder",
        "tool:*",
        "tool:getOrderStatusX",
        "memory:write:support",
        "memory:read:supportx",
        "memory:read:*",
        "memory:read:billing",
        "code:exec",
        "net:api.example.com:8443",
        "net:evil.example.com:443",
        "net:api.example.com:*",
    ):
        refused(identity, token, "scope not granted", scope=scope)
    for scope in ("tool:getOrderStatus tool:refundOrder", "memory:read:support/../billing", "tool:\nx", ""):
        with pytest.raises(NotPermittedError, match=r"\(malformed scope\)$"):
            identity.authorize(token, scope)
    # the prefix rule: a namespace covers what is under it, and a prefix query of it
    for scope in ("memory:read:support", "memory:read:support/refunds", "memory:read:support/"):
        assert identity.authorize(token, scope) is not None
    # through the seam every boundary uses
    services = {"identity": identity}
    assert authorize(services, token, "tool:getOrderStatus").subject == "bot"
    with pytest.raises(NotPermittedError, match=r"^not permitted: tool:refundOrder \(scope not granted\)$"):
        authorize(services, token, "tool:refundOrder")


def test_a_sub_agent_cannot_regain_a_parent_scope(identity: Identity) -> None:
    parent = identity.issue("planner", "tool:getOrderStatus tool:refundOrder memory:write:support", ttl=120)
    sub = identity.delegate(parent, "helper", "tool:getOrderStatus")
    refused(identity, sub, "scope not granted", scope="tool:refundOrder")
    for wider in ("tool:refundOrder", "memory:write:support", "tool:*"):
        with pytest.raises(NotPermittedError, match="not granted to the parent token"):
            identity.delegate(sub, "helper2", wider)  # re-delegating from itself
        with pytest.raises(NotPermittedError, match="not granted to the parent token"):
            identity.delegate(sub, "planner", wider)  # pretending to be the parent again
    # delegating back to the parent's name does not restore the parent's token either
    back = identity.verify(identity.delegate(sub, "planner", "tool:getOrderStatus"))
    assert back.scopes == ("tool:getOrderStatus",)
    # editing the scope claim of its own token breaks the signature
    h, p, s = sub.split(".")
    from .conftest import b64 as enc
    from .conftest import unb64

    claims = json.loads(unb64(p))
    claims["scope"] += " tool:refundOrder"
    refused(
        identity, f"{h}.{enc(json.dumps(claims).encode())}.{s}", "bad signature", scope="tool:refundOrder"
    )


def test_nested_act_claims_are_not_used_for_authorization(identity: Identity, attacker: Attacker) -> None:
    """RFC 8693: only top-level claims and the current actor count; prior actors are informational."""
    token = attacker.insider(
        scope="tool:getOrderStatus",
        act={"sub": "helper", "scope": "tool:refundOrder",
             "act": {"sub": "admin", "scope": "tool:* memory:write:*", "act": {"sub": "root"}}},
    )  # fmt: skip
    claims = identity.authorize(token, "tool:getOrderStatus")
    assert claims is not None and claims.agent == "helper" and claims.scopes == ("tool:getOrderStatus",)
    for scope in ("tool:refundOrder", "tool:deleteEverything", "memory:write:support"):
        refused(identity, token, "scope not granted", scope=scope)
    with pytest.raises(NotPermittedError, match="not granted to the parent token"):
        identity.delegate(token, "helper", "tool:refundOrder")
    # a real delegation chain: the nested actors are recorded, the scope stays the narrowest
    root = identity.issue("planner", "tool:getOrderStatus tool:refundOrder", ttl=60)
    mid = identity.delegate(root, "helper", "tool:getOrderStatus tool:refundOrder")
    leaf = identity.verify(identity.delegate(mid, "checker", "tool:getOrderStatus"))
    assert leaf.subject == "planner" and leaf.agent == "checker"
    assert leaf.act == {"sub": "checker", "act": {"sub": "helper"}}
    assert not leaf.allows("tool:refundOrder")


# ------------------------------------------------------------------ state
def test_replay_of_a_single_use_jti(identity: Identity) -> None:
    token = identity.issue("bot", SCOPE, ttl=60, once=True)
    assert identity.authorize(token, SCOPE) is not None
    refused(identity, token, "single-use token already used")
    # a second service on the same project (another process would see the same files)
    again = Identity(identity.dir.parent)
    refused(again, token, "single-use token already used")
    # a refusal for another reason does not spend the token
    fresh = identity.issue("bot", SCOPE, ttl=60, once=True)
    refused(identity, fresh, "scope not granted", scope="tool:refundOrder")
    assert identity.authorize(fresh, SCOPE) is not None


def test_a_token_from_session_a_used_in_session_b(identity: Identity) -> None:
    token = identity.issue("bot", "tool:getOrderStatus code:exec", ttl=60, session="session-a")
    assert identity.authorize(token, SCOPE, session_id="session-a") is not None
    refused(identity, token, "token is for another session", session_id="session-b")
    refused(identity, token, "token is for another session", session_id="session-a2")
    # the interpreter names its sandbox after the session: that is the same session
    assert identity.authorize(token, "code:exec", session_id="run-session-a") is not None
    refused(identity, token, "token is for another session", scope="code:exec", session_id="run-session-b")


def test_a_revoked_session(identity: Identity) -> None:
    token = identity.issue("bot", SCOPE, ttl=60, session="sess-1")
    other = identity.issue("bot", SCOPE, ttl=60, session="sess-2")
    identity.revoke(session="sess-1")
    refused(identity, token, "session revoked")
    assert identity.authorize(other, SCOPE) is not None
    with pytest.raises(NotPermittedError, match=r"not permitted: issue \(session revoked\)"):
        identity.issue("bot", SCOPE, session="sess-1")
    with pytest.raises(NotPermittedError, match="session revoked"):
        identity.delegate(token, "helper", SCOPE)
    # seen by another service object on the same state dir (as another process would)
    refused(Identity(identity.dir.parent), token, "session revoked")
    # one token can be revoked alone
    identity.revoke(token=other)
    refused(identity, other, "token revoked")


def test_rotation_keeps_old_tokens_valid_and_stops_the_old_key(
    identity: Identity, attacker: Attacker
) -> None:
    identity.configure(skew=0)  # so that "after the rotation" is a second away, not the skew
    old_kid = attacker.kid
    old_private = attacker.private_key()
    before = identity.issue("bot", SCOPE, ttl=60)
    new_kid, retired = identity.rotate()
    rotated = time.time()
    assert retired == [old_kid] and new_kid != old_kid
    assert not (identity.dir / "private" / f"{old_kid}.pem").exists()  # it can no longer sign
    assert identity.authorize(before, SCOPE) is not None  # ... but its tokens still verify
    assert identity.verify(identity.issue("bot", SCOPE)).key_id == new_kid
    assert {k["kid"] for k in identity.jwks()["keys"]} == {old_kid, new_kid}
    # a copy of the retired key minting new tokens after the rotation is refused
    while int(time.time()) <= rotated:
        time.sleep(0.05)
    later = int(time.time())
    forged = attacker.signed(
        attacker.header(kid=old_kid), attacker.claims(iat=later, nbf=later), key=old_private
    )
    refused(identity, forged, "signed by a retired key")


def test_refusals_never_contain_the_token(identity: Identity, attacker: Attacker) -> None:
    token = identity.issue("bot", SCOPE, ttl=60)
    for attempt in (
        lambda: identity.authorize(token, "tool:refundOrder"),
        lambda: identity.authorize(bad_signature(token), SCOPE),
        lambda: identity.authorize(token, SCOPE, session_id="elsewhere"),
    ):
        with pytest.raises(NotPermittedError) as err:
            attempt()
        text = f"{err.value!s} {err.value!r} {err.value.args}"
        assert token not in text and token.split(".")[2] not in text and token.split(".")[1] not in text
    with pytest.raises(InvalidTokenError) as err2:
        identity.verify(token + "x")
    assert token not in str(err2.value)
