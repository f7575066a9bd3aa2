"""``agentcore deploy``: the generated files, the refusals, and ``--local`` started as the container
would start it, reported by ``status`` and stopped by ``destroy`` (no Docker on these machines)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from agentcore_nb.errors import AgentcoreError
from agentcore_nb.serve.deploy import load_settings, write_deployment
from tests.helpers import procs
from tests.helpers.served import contract_bundle

TOML = """
[env.prod]
port = {port}
workers = 8
body_limit = 65536
session_idle = 600
drain_timeout = 5

[env.prod.auth]
jwks_url = "https://issuer.example.com/.well-known/jwks.json"
audience = "my-agent"

[env.prod.model]
name = "openai:gpt-4o-mini"
env = ["OPENAI_API_KEY"]

[env.dev]
port = {port}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env["AGENTCORE_HOME"] = str(home)
    return procs.cli(env, *args, cwd=cwd, timeout=120)


def test_the_deployable_form(tmp_path: Path) -> None:
    bundle = contract_bundle(tmp_path / "b")
    (tmp_path / "agentcore.toml").write_text(TOML.format(port=9000))
    out = write_deployment(bundle, "prod", config=tmp_path / "agentcore.toml", out=tmp_path / "deploy")
    docker = (out / "Dockerfile").read_text()
    command = json.loads((out / "command.json").read_text())
    # the exact start command, in the Dockerfile and in command.json
    cmd_line = next(line for line in docker.splitlines() if line.startswith("CMD "))
    assert json.loads(cmd_line[4:]) == command
    assert command[:5] == ["agentcore", "serve", "/app/bundle", "--host", "0.0.0.0"]
    assert command[command.index("--port") + 1] == "9000"
    assert command[command.index("--workers") + 1] == "8"
    assert command[command.index("--jwks-url") + 1].startswith("https://issuer.example.com")
    # multi-arch base, non-root user, health check on /ping, pinned requirements
    assert re.search(r"^FROM python:3\.\d+-slim$", docker, re.M)
    assert "linux/amd64,linux/arm64" in docker
    user = docker.index("\nUSER agent")
    assert docker.index("useradd") < user < docker.index("\nCMD ")
    assert "HEALTHCHECK" in docker and "127.0.0.1:9000/ping" in docker
    assert "pip install -r /app/bundle/requirements.txt" in docker
    assert 'ENV AGENTCORE_MODEL="openai:gpt-4o-mini"' in docker
    assert "OPENAI_API_KEY" in docker and "sk-" not in docker
    # the bundle is copied whole, still passing its manifest check
    from agentcore_nb.export.bundle import load_bundle

    assert load_bundle(out / "bundle").manifest["name"] == "contract"
    settings = json.loads((out / "settings.json").read_text())
    assert settings["env"] == "prod" and settings["auth"]["audience"] == "my-agent"
    # the command is one the real CLI accepts
    done = cli("serve", "--help", cwd=tmp_path, home=tmp_path / "h")
    for flag in [a for a in command if a.startswith("--")]:
        assert flag in done.stdout


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[env.prod.model]\nname = "x"\napi_key = "sk-live-123"\n', "looks like a secret"),
        ('[env.prod]\npassword = "hunter2"\n', "looks like a secret"),
        ("[env.prod]\nport = 'eighty'\n", "wrong type"),
        ("[env.prod]\nflavour = 1\n", "unknown setting"),
        ("[env.staging]\nport = 1\n", "no [env.prod]"),
        ('[env.prod.auth]\njwks_url = "https://x"\n', "needs both"),
        ("[env.prod\n", "agentcore.toml"),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_written(tmp_path: Path, toml: str, message: str) -> None:
    bundle = contract_bundle(tmp_path / "b")
    (tmp_path / "agentcore.toml").write_text(toml)
    with pytest.raises(AgentcoreError, match=re.escape(message)):
        write_deployment(bundle, "prod", config=tmp_path / "agentcore.toml", out=tmp_path / "deploy")
    assert not (tmp_path / "deploy").exists()


def test_a_tampered_bundle_is_not_deployed(tmp_path: Path) -> None:
    bundle = contract_bundle(tmp_path / "b")
    (bundle / "graph.json").write_text("{}")
    done = cli("deploy", str(bundle), "--env", "prod", cwd=tmp_path, home=tmp_path / "h")
    assert done.returncode == 1 and "graph.json does not match its manifest" in done.stderr
    assert not (tmp_path / "build").exists()


def test_defaults_without_a_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings("prod").port == 8080


def test_local_deploy_status_invoke_destroy(tmp_path: Path) -> None:
    home = tmp_path / "home"
    bundle = contract_bundle(tmp_path / "b")
    (tmp_path / "agentcore.toml").write_text(
        f'[env.dev]\nport = {free_port()}\nworkers = 4\n[env.dev.model]\nname = "offline"\n'
    )
    done = cli("deploy", str(bundle), "--env", "dev", "--local", cwd=tmp_path, home=home)
    try:
        assert done.returncode == 0, done.stderr
        url = re.search(r"running at (http://\S+)", done.stdout).group(1)  # type: ignore[union-attr]
        assert httpx.post(url + "/invocations", json={"x": 1}).json() == {"got": {"x": 1}}
        st = json.loads(cli("status", "--json", cwd=tmp_path, home=home).stdout)
        assert [(r["name"], r["state"], r["ping"]) for r in st] == [("contract-dev", "running", "Healthy")]
        pid = st[0]["pid"]
        again = cli("deploy", str(bundle), "--env", "dev", "--local", cwd=tmp_path, home=home)
        assert again.returncode == 1 and "already running" in again.stderr
    finally:
        gone = cli("destroy", "contract-dev", cwd=tmp_path, home=home)
    assert gone.returncode == 0, gone.stderr
    assert "drained and stopped" in gone.stdout
    assert not Path(f"/proc/{pid}").exists() or b"agentcore" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert json.loads(cli("status", "--json", cwd=tmp_path, home=home).stdout) == []
    missing = cli("destroy", "nothing-here", cwd=tmp_path, home=home)
    assert missing.returncode == 1 and "no local deployment 'nothing-here'" in missing.stderr
