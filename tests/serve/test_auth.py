"""Inbound auth as an attacker meets it, on both HTTP surfaces (serve and the MCP gateway):
no token, a forged signature, the wrong audience, an expired token, the wrong scope; an external
issuer's JWKS served by a local HTTP server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from agentcore_nb.project import Project
from tests.helpers.served import Served, contract_bundle

AUD = "agentcore-test-audience"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env["AGENTCORE_HOME"] = str(home)
    return env


class Issuer:
    """An external identity provider: an RSA key, its JWKS over HTTP on 127.0.0.1."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": "test-key", "alg": "RS256", "use": "sig"})
        body = json.dumps({"keys": [jwk]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def token(self, *, aud: str = AUD, exp: float | None = None, key: object = None) -> str:
        now = int(time.time())
        claims = {"sub": "user-1", "aud": aud, "iat": now, "exp": exp if exp is not None else now + 300}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": "test-key"})

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    found = Issuer()
    yield found
    found.close()


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory, issuer: Issuer
) -> Iterator[tuple[Served, dict[str, str]]]:
    root = tmp_path_factory.mktemp("auth")
    home = root / "home"
    with Project(home) as project:
        identity = project.services["identity"]
        tokens = {
            "good": identity.issue("client", "invoke:contract", ttl=600),
            "other": identity.issue("client", "invoke:another-graph", ttl=600),
        }
    env = _env(home)
    with Served(
        contract_bundle(root / "b"), "--require-auth", "--jwks-url", issuer.url, "--audience", AUD, env=env
    ) as server:
        yield server, tokens


def _call(served: Served, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.post(served.url + "/invocations", json={"q": 1}, headers=headers, timeout=30)


def _is_401(r: httpx.Response) -> str:
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith("Bearer realm=")
    assert "\n" not in r.text
    return r.headers["www-authenticate"]


def test_no_token_is_401_and_ping_stays_open(secured: tuple[Served, dict[str, str]]) -> None:
    served, _ = secured
    _is_401(_call(served, None))
    _is_401(httpx.post(served.url + "/invocations", json=1, headers={"Authorization": "Basic abc"}))
    assert httpx.get(served.url + "/ping").json()["status"] == "Healthy"


def test_project_tokens_need_the_invoke_scope(secured: tuple[Served, dict[str, str]]) -> None:
    served, tokens = secured
    assert _call(served, tokens["good"]).json() == {"got": {"q": 1}}
    r = _call(served, tokens["other"])
    assert r.status_code == 403
    assert "insufficient_scope" in r.headers["www-authenticate"]


def test_a_forged_signature_is_401(secured: tuple[Served, dict[str, str]], issuer: Issuer) -> None:
    served, tokens = secured
    head, body, sig = tokens["good"].split(".")
    forged = f"{head}.{body}.{sig[:-4]}{'AAAA' if sig[-4:] != 'AAAA' else 'BBBB'}"
    _is_401(_call(served, forged))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert "bad signature" in _is_401(_call(served, issuer.token(key=stranger)))
    _is_401(_call(served, "not-a-jwt"))


def test_external_issuer_tokens(secured: tuple[Served, dict[str, str]], issuer: Issuer) -> None:
    served, _ = secured
    assert _call(served, issuer.token()).json() == {"got": {"q": 1}}
    assert "wrong audience" in _is_401(_call(served, issuer.token(aud="someone-else")))
    assert "expired" in _is_401(_call(served, issuer.token(exp=time.time() - 3600)))


def test_the_token_is_never_logged(secured: tuple[Served, dict[str, str]], issuer: Issuer) -> None:
    served, tokens = secured
    bad = issuer.token(aud="leak-check")
    _call(served, bad)
    _call(served, tokens["good"])
    code, err = served.terminate()
    assert code == 0
    assert bad not in err and tokens["good"] not in err


def test_beyond_loopback_a_token_is_required(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Project(home) as project:
        good = project.services["identity"].issue("client", "invoke:contract", ttl=600)
    with Served(contract_bundle(tmp_path / "b"), "--host", "0.0.0.0", env=_env(home)) as served:
        url = served.url.replace("0.0.0.0", "127.0.0.1")
        r = httpx.post(url + "/invocations", json=1)
        assert r.status_code == 401
        ok = httpx.post(url + "/invocations", json=1, headers={"Authorization": f"Bearer {good}"})
        assert ok.json() == {"got": 1}


def test_mcp_over_http_beyond_loopback_needs_a_tool_token(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Project(home) as project:
        identity = project.services["identity"]
        tools = identity.issue("client", "tool:*", ttl=600)
        invoke = identity.issue("client", "invoke:contract", ttl=600)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agentcore_nb.cli",
            "gateway",
            "serve-mcp",
            "--http",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(home),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r":(\d+)/mcp", line)
        assert found, line + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        url = f"http://127.0.0.1:{found.group(1)}/mcp"
        init = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        }
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        r = httpx.post(url, json=init, headers=headers, timeout=30)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        r = httpx.post(url, json=init, headers={**headers, "Authorization": f"Bearer {invoke}"}, timeout=30)
        assert r.status_code == 403
        r = httpx.post(url, json=init, headers={**headers, "Authorization": f"Bearer {tools}"}, timeout=30)
        assert r.status_code == 200, r.text
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
