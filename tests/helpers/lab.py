"""JupyterLab on 127.0.0.1 for browser tests: temporary HOME, AGENTCORE_HOME and Jupyter dirs,
news off, a token, the project's venv (so its kernels and lab extensions). Stopped on exit."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class LabFailed(RuntimeError):
    """JupyterLab did not come up (the message ends with its log)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def jupyterlab(base: Path, root: Path, start_timeout: float = 120) -> Iterator[dict[str, Any]]:
    """Run JupyterLab serving `root`; yields url, token and env (the server's environment)."""
    dirs = {name: base / name for name in ("home", "agentcore", "config", "runtime", "settings", "work")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    news = dirs["settings"] / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True, exist_ok=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    port, token = free_port(), uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update(
        HOME=str(dirs["home"]),
        AGENTCORE_HOME=str(dirs["agentcore"]),
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        NO_COLOR="1",
    )
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={dirs['settings']}", f"--LabApp.workspaces_dir={dirs['work']}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log_path = base / "lab.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + start_timeout
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise LabFailed(
                            "JupyterLab did not start:\n" + log_path.read_text(errors="replace")[-3000:]
                        ) from None
                    time.sleep(0.2)
            yield {"url": url, "token": token, "env": env, "log": log_path}
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@contextmanager
def notebook_page(
    lab: dict[str, Any], notebook: str, viewport: dict[str, int], default_timeout: float | None = None
) -> Iterator[Any]:
    """Chromium (Playwright) on `notebook` in the lab, its AgentCore kernel idle. Console and page
    errors collect in `page.agentcore_errors` (see `no_console_errors`)."""
    from playwright import sync_api

    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport=viewport)
            if default_timeout is not None:
                page.set_default_timeout(default_timeout)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.agentcore_errors = errors
            page.goto(f"{lab['url']}/lab/tree/{notebook}?reset&token={lab['token']}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            # the execution indicator says "idle" before any kernel exists: wait for the kernel itself
            page.get_by_text("AgentCore (Python 3) | Idle").first.wait_for(timeout=180_000)
            yield page
        finally:
            browser.close()


def no_console_errors(page: Any) -> None:
    assert page.agentcore_errors == [], "browser console errors:\n" + "\n".join(page.agentcore_errors)
