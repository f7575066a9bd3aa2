"""``agentcore deploy --local``, ``agentcore status``, ``agentcore destroy``: a deployment started as
its container would start it (the same command, its own state directory), as a background process,
recorded in the project's ``deployments/`` so it can be reported and stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import AgentcoreError
from .deploy import CONTAINER_BUNDLE


def _registry(home: Path) -> Path:
    path = home / "deployments"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _ours(pid: int, directory: str) -> bool:
    """``pid`` is alive and is the serve process of that deployment (not a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    args = [a.decode("utf-8", "replace") for a in cmdline]
    return "agentcore_nb.cli" in args and "serve" in args and any(a.startswith(directory) for a in args)


def _ping(url: str) -> str:
    import httpx

    try:
        return str(httpx.get(url + "/ping", timeout=2).json().get("status", "?"))
    except (httpx.HTTPError, ValueError):
        return "not answering"


def start_local(
    deployment: Path, home: Path, *, port: int | None = None, wait: float = 60.0
) -> dict[str, Any]:
    """Start the deployment's command on 127.0.0.1 in the background; returns its record once
    ``/ping`` answers (or one line saying why it did not start)."""
    deployment = deployment.absolute()
    try:
        cmd = json.loads((deployment / "command.json").read_text())
        settings = json.loads((deployment / "settings.json").read_text())
    except (OSError, ValueError):
        raise AgentcoreError(
            f"{deployment} is not a deployment (agentcore deploy BUNDLE --env ENV)"
        ) from None
    name = f"{settings['name']}-{settings['env']}"
    record_path = _registry(home) / f"{name}.json"
    if record_path.exists():
        old = json.loads(record_path.read_text())
        if _ours(old["pid"], old["dir"]):
            raise AgentcoreError(
                f"{name} is already running at {old['url']}", hint=f"agentcore destroy {name}"
            )
    argv = [sys.executable, "-m", "agentcore_nb.cli", *cmd[1:]]
    argv = [str(deployment / "bundle") if a == CONTAINER_BUNDLE else a for a in argv]
    argv[argv.index("--host") + 1] = "127.0.0.1"
    if port is not None:
        argv[argv.index("--port") + 1] = str(port)
    used_port = int(argv[argv.index("--port") + 1])
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR",)}
    env["AGENTCORE_HOME"] = str(deployment / "state")
    if settings.get("model", {}).get("name"):
        env["AGENTCORE_MODEL"] = settings["model"]["name"]
    log = deployment / "serve.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            cwd=deployment,
            env=env,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{used_port}"
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            lines = [x for x in log.read_text("utf-8", "replace").splitlines() if x.strip()]
            raise AgentcoreError(
                f"{name} did not start: {lines[-1] if lines else 'exit ' + str(proc.returncode)}"
            )
        if _ping(url) in ("Healthy", "HealthyBusy"):
            break
        time.sleep(0.2)
    else:
        proc.terminate()
        raise AgentcoreError(f"{name} did not answer /ping within {wait:g}s (see {log})")
    record = {
        "name": name,
        "env": settings["env"],
        "pid": proc.pid,
        "url": url,
        "dir": str(deployment),
        "log": str(log),
        "started": time.time(),
        "command": argv[2:],
    }
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    return record


def status(home: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted(_registry(home).glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except ValueError:
            continue
        alive = _ours(record["pid"], record["dir"])
        record["state"] = "running" if alive else "stopped"
        record["ping"] = _ping(record["url"]) if alive else ""
        out.append(record)
    return out


def destroy(home: Path, name: str, *, timeout: float = 60.0) -> str:
    """SIGTERM the deployment (it drains and exits 0), wait, forget it; one line of what happened."""
    path = _registry(home) / f"{name}.json"
    if not path.exists():
        known = ", ".join(p.stem for p in _registry(home).glob("*.json")) or "none"
        raise AgentcoreError(f"no local deployment {name!r} (deployments: {known})")
    record = json.loads(path.read_text())
    pid = record["pid"]
    if not _ours(pid, record["dir"]):
        path.unlink()
        return f"{name} was not running (forgotten)"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _ours(pid, record["dir"]) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.1)
    how = "drained and stopped"
    if _ours(pid, record["dir"]):
        os.kill(pid, signal.SIGKILL)
        how = "killed (it did not drain in time)"
    _reap(pid)
    path.unlink()
    return f"{name} {how}"


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
