"""``agentcore identity`` as a user runs it, ``%identity`` through a real kernel, keys on disk."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from agentcore_nb.identity import Identity, IdentityError
from agentcore_nb.project import Project
from tests.helpers.kernel import running_kernel

from .conftest import bad_signature


def cli(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentcore_nb.cli", "identity", *args],
        env=env, input=stdin, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_cli_issue_verify_rotate_keys_revoke(subprocess_env, agentcore_home: Path) -> None:
    out = cli("issue", "--agent", "support-bot", "--scopes", "tool:getOrderStatus memory:read:support",
              "--ttl", "300", "--session", "chat-1", env=subprocess_env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip().splitlines()[-1]
    assert out.stdout == token + "\n" and token.count(".") == 2  # the token alone, on the last line
    assert "support-bot" in out.stderr and token not in out.stderr
    ok = cli("verify", "-", env=subprocess_env, stdin=token + "\n")
    assert ok.returncode == 0, ok.stderr
    claims = json.loads(ok.stdout)
    assert claims["sub"] == "support-bot" and claims["sid"] == "chat-1"
    assert (
        claims["scope"] == "tool:getOrderStatus memory:read:support" and claims["exp"] - claims["iat"] == 300
    )
    # the in-process service of the same project agrees (the files are the shared state)
    with Project(agentcore_home) as project:
        identity: Identity = project.services["identity"]
        assert identity.authorize(token, "memory:read:support/refunds").subject == "support-bot"
        once = identity.issue("bot", "tool:getOrderStatus", once=True)
    denied = cli("verify", token, "--scope", "tool:refundOrder", env=subprocess_env)
    assert denied.returncode == 1
    assert denied.stderr == "error: not permitted: tool:refundOrder (scope not granted)\n"
    assert cli("verify", once, "--scope", "tool:getOrderStatus", env=subprocess_env).returncode == 0
    replay = cli("verify", once, "--scope", "tool:getOrderStatus", env=subprocess_env)
    assert replay.returncode == 1 and "single-use token already used" in replay.stderr
    bad = cli("verify", bad_signature(token), env=subprocess_env)
    assert bad.returncode == 1 and bad.stderr == "error: invalid token: bad signature\n"
    # rotation: a new key, the old token still verifies, JWKS lists both
    rot = cli("rotate", env=subprocess_env)
    assert rot.returncode == 0 and rot.stdout.startswith("new signing key ") and "retired " in rot.stdout
    assert cli("verify", token, env=subprocess_env).returncode == 0
    jwks = json.loads(cli("keys", env=subprocess_env).stdout)
    assert len(jwks["keys"]) == 2 and all(k["kty"] == "OKP" and k["crv"] == "Ed25519" for k in jwks["keys"])
    assert all("d" not in k for k in jwks["keys"])  # public keys only
    # revocation from the CLI reaches every process
    assert cli("revoke", "--session", "chat-1", env=subprocess_env).stdout == "revoked session chat-1\n"
    gone = cli("verify", token, env=subprocess_env)
    assert gone.returncode == 1 and gone.stderr == "error: invalid token: session revoked\n"
    # delegation: only narrower, read from stdin
    parent = cli("issue", "--agent", "planner", "--scopes", "tool:a", env=subprocess_env).stdout.strip()
    wider = cli(
        "issue", "--agent", "helper", "--scopes", "tool:b", "--parent", "-", env=subprocess_env, stdin=parent
    )
    assert (
        wider.returncode == 1
        and wider.stderr == "error: not permitted: tool:b (not granted to the parent token)\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("issue", "--agent", "bot", "--scopes", "tool:a b"), "error: invalid scope 'b'"),
        (("issue", "--agent", "bad agent", "--scopes", "tool:a"), "error: invalid agent id 'bad agent'"),
        (("issue", "--agent", "bot", "--ttl", "0"), "error: ttl must be between 1 and 3600 seconds"),
        (("issue", "--agent", "bot", "--ttl", "86400"), "error: ttl must be between 1 and 3600 seconds"),
        (("verify", "not-a-token"), "error: invalid token: malformed token"),
        (("verify", "-"), "error: no token given"),
        (("revoke",), "error: revoke needs a session id or a token"),
        (("config", "--ttl", "99999"), "error: ttl must be between 1 and max_ttl (3600) seconds"),
    ],
)
def test_cli_bad_input_is_one_line(subprocess_env, args, message) -> None:
    out = cli(*args, env=subprocess_env, stdin="")
    assert out.returncode != 0
    assert out.stderr.startswith(message) and out.stderr.count("\n") == 1, out.stderr
    assert "Traceback" not in out.stderr


def test_keys_live_in_the_state_dir_with_mode_0600(identity: Identity, agentcore_home: Path) -> None:
    folder = agentcore_home / "identity"
    (pem,) = (folder / "private").iterdir()
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "private").stat().st_mode) == 0o700
    assert b"PRIVATE KEY" in pem.read_bytes()
    assert "PRIVATE" not in (folder / "keys.json").read_text()
    kid, _ = identity.rotate()
    assert stat.S_IMODE((folder / "private" / f"{kid}.pem").stat().st_mode) == 0o600
    # a private key that others can read is refused, with the fix in the message
    os.chmod(folder / "private" / f"{kid}.pem", 0o644)
    fresh = Identity(agentcore_home)
    with pytest.raises(IdentityError, match=r"is readable by other users \(mode 0644\) \(chmod 600 "):
        fresh.issue("bot", "tool:a")


def test_bad_settings_and_arguments(identity: Identity, agentcore_home: Path) -> None:
    with pytest.raises(IdentityError, match="unknown identity setting"):
        identity.configure(ttl_seconds=5)
    with pytest.raises(IdentityError, match="skew must be at most 300"):
        identity.configure(skew=3600)
    config = agentcore_home / "identity" / "config.json"
    saved = config.read_text()
    config.write_text('{"ttl": "soon"}')  # a hand-edited settings file is checked when it is read
    with pytest.raises(IdentityError, match="ttl must be a non-negative number"):
        identity.issue("bot", "tool:a")
    config.write_text(saved)
    for bad in ([1], {"scope": "x"}):
        with pytest.raises(IdentityError):
            identity.issue("bot", bad)  # type: ignore[arg-type]
    with pytest.raises(IdentityError, match="a JWKS needs a non-empty 'keys' list"):
        identity.trust("urn:partner", {"keys": []})
    with pytest.raises(IdentityError, match="cannot trust extra keys for its own issuer"):
        identity.trust(identity.config.issuer, identity.jwks())


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    home = tmp_path_factory.mktemp("identity-kernel")
    with running_kernel("agentcore", env={"AGENTCORE_HOME": str(home), "NO_COLOR": "1"}) as k:
        yield k


def test_identity_magic_whoami_issue_revoke_keys(kernel) -> None:
    who = kernel.execute("%identity whoami")
    assert who.status == "ok", who.errors
    assert "trusted in-process" in who.stdout and "node tokens on" in who.stdout
    issued = kernel.execute(
        '%identity issue --agent support-bot --scopes "tool:getOrderStatus memory:read:support" --ttl 300'
    )
    assert issued.status == "ok", issued.errors
    table = issued.data[0]["text/plain"]
    assert "support-bot" in table and "tool:getOrderStatus memory:read:support" in table
    token = kernel.execute("print(token)").stdout.strip()
    assert token.count(".") == 2 and token not in issued.stdout + table  # never shown
    sub = kernel.execute(
        "%identity issue --agent helper --scopes tool:getOrderStatus --parent token --as helper_token"
    )
    assert sub.status == "ok", sub.errors
    shown = kernel.execute("%identity whoami --token helper_token").data[0]["text/plain"]
    assert "helper" in shown and "acting for" in shown and "memory:read" not in shown
    wider = kernel.execute("%identity issue --agent helper --scopes tool:refundOrder --parent token --as x")
    assert wider.status == "error"
    assert wider.errors[0]["evalue"] == "not permitted: tool:refundOrder (not granted to the parent token)"
    assert len(wider.errors[0]["traceback"]) == 1
    keys = kernel.execute("%identity keys")
    assert keys.status == "ok" and "active" in keys.data[0]["text/plain"]
    session = kernel.execute("print(_identity_jwks['keys'][0]['kty'])")
    assert session.stdout == "OKP\n"
    revoked = kernel.execute("%identity revoke --token helper_token")
    assert revoked.status == "ok" and revoked.stdout.startswith("revoked token ")
    gone = kernel.execute("%identity whoami --token helper_token")
    assert gone.status == "error" and gone.errors[0]["evalue"] == "invalid token: token revoked"
    # the parent is untouched; the kernel's session can be revoked as a whole
    assert kernel.execute("%identity whoami --token token").status == "ok"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%identity", "the following arguments are required"),
        ("%identity issue --scopes tool:a", "the following arguments are required: --agent"),
        ("%identity issue --agent bot --scopes 'tool:a b'", "invalid scope 'b'"),
        ("%identity issue --agent bot --ttl soon", "ttl must be a number of seconds"),
        ("%identity issue --agent bot --as 1x", "is not a variable name"),
        ("%identity whoami --token nothing_here", "no variable 'nothing_here' in the notebook"),
        ("%identity revoke", "needs --session SESSION or --token VARIABLE"),
    ],
)
def test_identity_magic_bad_input_is_one_line(kernel, line, message) -> None:
    out = kernel.execute(line)
    assert out.status == "error", out.stdout
    (err,) = out.errors
    assert message in err["evalue"] and len(err["traceback"]) == 1, err


def test_the_local_owner_is_trusted_until_tokens_are_required(
    identity: Identity, agentcore_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentcore_nb.errors import NotPermittedError

    assert identity.authorize(None, "tool:getOrderStatus") is None  # notebooks, CLI, plain Python
    with pytest.raises(NotPermittedError, match=r"^not permitted: tool:getOrderStatus \(no token\)$"):
        identity.authorize(None, "tool:getOrderStatus", require=True)  # what an HTTP service asks
    Identity(agentcore_home).configure(require_token=True)  # another process changes the setting
    with pytest.raises(NotPermittedError, match=r"\(no token\)$"):
        identity.authorize(None, "memory:read:support")
    Identity(agentcore_home).configure(require_token=False)
    assert identity.authorize(None, "memory:read:support") is None
    monkeypatch.setenv("AGENTCORE_REQUIRE_TOKEN", "1")
    with pytest.raises(NotPermittedError, match=r"\(no token\)$"):
        identity.authorize(None, "code:exec")
