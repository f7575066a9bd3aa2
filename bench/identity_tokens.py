"""Identity token costs, measured against bare PyJWT in the same run.

  peer   jwt.encode(claims, ed25519_key, "EdDSA") and jwt.decode(token, public_key, algorithms=["EdDSA"],
         audience=..., issuer=...): the same claims, the same key type, PyJWT's own checks only
  ours   Identity.issue (validation, revocation check, key ring freshness, sign) and Identity.verify
         (header allow-list, typ, kid, key lookup, signature, every claim, lifetime, retired key,
         revocation of session and token: files re-checked by stat) and Identity.authorize (verify +
         the scope check a boundary does)

Rounds alternate peer and ours; each figure is the median over rounds of the per-operation time.
verify_vs_pyjwt = our verify / bare decode (bar <= 1.5).

Usage: .venv/bin/python bench/identity_tokens.py [--quick]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jwt
from cryptography.hazmat.primitives import serialization

from agentcore_nb.identity import TYP, Identity

BARS = {"verify_vs_pyjwt": 1.5}
SCOPES = "tool:getOrderStatus memory:read:support memory:write:support code:exec net:api.example.com:443"


def per_op(fn, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer rounds (a few seconds)")
    args = ap.parse_args()
    rounds, n = (7, 200) if args.quick else (25, 400)

    home = Path(tempfile.mkdtemp(prefix="bench-identity-"))
    identity = Identity(home)
    identity.jwks()  # first key
    cfg = identity.config
    kid = identity.jwks()["keys"][0]["kid"]
    private = serialization.load_pem_private_key((identity.dir / "private" / f"{kid}.pem").read_bytes(), None)
    public = private.public_key()  # type: ignore[union-attr]

    token = identity.issue("support-bot", SCOPES, ttl=300, session="bench-session")
    claims = jwt.decode(token, options={"verify_signature": False})
    headers = {"typ": TYP, "kid": kid}
    bare = jwt.encode(claims, private, algorithm="EdDSA", headers=headers)  # type: ignore[arg-type]

    def peer_encode() -> None:
        jwt.encode(claims, private, algorithm="EdDSA", headers=headers)  # type: ignore[arg-type]

    def peer_decode() -> None:
        jwt.decode(bare, public, algorithms=["EdDSA"], audience=cfg.audience, issuer=cfg.issuer)  # type: ignore[arg-type]

    def our_issue() -> None:
        identity.issue("support-bot", SCOPES, ttl=300, session="bench-session")

    def our_verify() -> None:
        identity.verify(token)

    def our_authorize() -> None:
        identity.authorize(token, "memory:read:support/refunds", session_id="bench-session")

    for fn in (peer_encode, peer_decode, our_issue, our_verify, our_authorize):  # warm up
        per_op(fn, 50)
    samples: dict[str, list[float]] = {k: [] for k in ("encode", "decode", "issue", "verify", "authorize")}
    for _ in range(rounds):
        samples["decode"].append(per_op(peer_decode, n))
        samples["verify"].append(per_op(our_verify, n))
        samples["encode"].append(per_op(peer_encode, n))
        samples["issue"].append(per_op(our_issue, n))
        samples["authorize"].append(per_op(our_authorize, n))
    med = {k: statistics.median(v) for k, v in samples.items()}
    us = {k: round(v * 1e6, 1) for k, v in med.items()}
    verify_ratio = med["verify"] / med["decode"]
    figures = {
        "benchmark": "identity_tokens",
        "peer": f"PyJWT {jwt.__version__} encode+decode (EdDSA, same claims)",
        "pyjwt_encode_us": us["encode"],
        "pyjwt_decode_us": us["decode"],
        "issue_us": us["issue"],
        "verify_us": us["verify"],
        "authorize_us": us["authorize"],
        "verify_vs_pyjwt": round(verify_ratio, 3),
        "issue_vs_pyjwt": round(med["issue"] / med["encode"], 3),
        "authorize_vs_pyjwt": round(med["authorize"] / med["decode"], 3),
        "issue_verify_per_s": round(1.0 / (med["issue"] + med["verify"])),
        "pyjwt_encode_decode_per_s": round(1.0 / (med["encode"] + med["decode"])),
        "repetitions": {"rounds": rounds, "per_round": n},
        "bars": BARS,
        "pass": verify_ratio <= BARS["verify_vs_pyjwt"],
    }
    shutil.rmtree(home, ignore_errors=True)
    print(f"PyJWT encode {us['encode']} us, decode {us['decode']} us")
    print(f"ours  issue  {us['issue']} us, verify {us['verify']} us, authorize {us['authorize']} us")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
