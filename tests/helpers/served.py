"""Bundles and a real ``agentcore serve`` process for the serve tests (and the benchmark)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from agentcore_nb.export.bundle import write_graph_bundle

CONTRACT_CELLS = """
import os
import time


def _stream(n, delay=0.0, fail_after=None):
    for i in range(n):
        if fail_after is not None and i == fail_after:
            raise ValueError("broke mid-stream")
        if delay:
            time.sleep(delay)
        yield {"chunk": i}


async def _astream(n):
    for i in range(n):
        yield {"achunk": i}


def _wait_for(path):
    deadline = time.monotonic() + 60
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.02)


def main(payload, ctx):
    op = payload.get("op") if isinstance(payload, dict) else None
    if op is None:
        return {"got": payload}
    if op == "fail":
        raise ValueError("the graph failed on purpose")
    if op == "stream":
        return _stream(payload.get("n", 3), payload.get("delay", 0.0), payload.get("fail_after"))
    if op == "astream":
        return _astream(payload.get("n", 2))
    if op == "ctx":
        return {"request": ctx.request, "session_id": ctx.session_id, "run_id": ctx.run_id}
    if op == "remember":
        notes = ctx.namespace.setdefault("notes", [])
        notes.append(payload["text"])
        return {"notes": list(notes)}
    if op == "background":
        ctx.background(_wait_for, payload["release"])
        return {"started": True}
    return {"unknown": op}
"""

ECHO_CELLS = """
def echo(payload):
    return payload
"""


def contract_bundle(out: Path) -> Path:
    spec = {
        "agentcore_graph": 1,
        "name": "contract",
        "output": "main",
        "nodes": [{"name": "main", "inputs": {"payload": "$input"}, "config": {"callable": "cells:main"}}],
    }
    return write_graph_bundle(spec, CONTRACT_CELLS, out)


def echo_bundle(out: Path) -> Path:
    spec = {
        "agentcore_graph": 1,
        "name": "echo",
        "output": "echo",
        "nodes": [{"name": "echo", "inputs": {"payload": "$input"}, "config": {"callable": "cells:echo"}}],
    }
    return write_graph_bundle(spec, ECHO_CELLS, out)


class Served:
    """``agentcore serve BUNDLE --port 0 ...`` in a child process; ``url`` once it listens."""

    def __init__(self, bundle: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agentcore_nb.cli", "serve", str(bundle), "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env if env is not None else dict(os.environ),
            cwd=cwd,
        )
        self.url = ""
        self.lines: list[str] = []
        deadline = time.monotonic() + 60
        assert self.proc.stderr is not None
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.lines.append(line)
            found = re.search(r"listening on (http://\S+)", line)
            if found:
                self.url = found.group(1)
                return
        self.stop()
        raise AssertionError("serve did not start: " + "".join(self.lines))

    def terminate(self, timeout: float = 60) -> tuple[int, str]:
        """SIGTERM, wait for the exit; returns (exit code, the rest of stderr)."""
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, err

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
