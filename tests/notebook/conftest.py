"""Kernels for the notebook tests: one real kernel per test module, driven over the Jupyter protocol.

``Kernel.run`` sends ``execute_request`` like JupyterLab does (optionally with a ``cellId`` in the
metadata) and collects every iopub message the request caused, comm traffic included.
"""

from __future__ import annotations

import ast
import json
import os
import queue
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager

from tests.helpers.kernel import CellResult, collect


class Kernel:
    def __init__(self, kernel_name: str, home: str) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
        env["AGENTCORE_HOME"] = home
        env["NO_COLOR"] = "1"
        self.home = home
        self.km = KernelManager(kernel_name=kernel_name)
        self.km.start_kernel(env=env)
        self.client = self.km.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        #: iopub messages that arrived outside any request we waited for (comm replies, ...).
        self.stray: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ requests
    def send(
        self, code: str, cell_id: str | None = None, metadata: dict[str, Any] | None = None, **content: Any
    ) -> str:
        body = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
            **content,
        }
        meta = {"cellId": cell_id} if cell_id else {}
        meta.update(metadata or {})
        msg = self.client.session.msg("execute_request", body, metadata=meta)
        self.client.shell_channel.send(msg)
        return str(msg["header"]["msg_id"])

    def collect(self, msg_id: str, timeout: float = 60) -> CellResult:
        return collect(self.client, msg_id, timeout, stray=self.stray)

    def run(self, code: str, cell_id: str | None = None, timeout: float = 60) -> CellResult:
        return self.collect(self.send(code, cell_id), timeout)

    def ok(self, code: str, cell_id: str | None = None, timeout: float = 60) -> CellResult:
        """Run a cell that must succeed."""
        result = self.run(code, cell_id, timeout)
        assert result.status == "ok", (code, result.errors, result.stderr)
        return result

    def value(self, expr: str) -> Any:
        """Evaluate ``expr`` silently (no cell, no node) and return it, decoded from JSON."""
        msg_id = self.client.execute(
            "", silent=True, user_expressions={"v": f"__import__('json').dumps({expr}, default=str)"}
        )
        reply = self.client.get_shell_msg(timeout=30)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.client.get_shell_msg(timeout=30)
        data = reply["content"]["user_expressions"]["v"]
        assert data["status"] == "ok", data
        return json.loads(ast.literal_eval(data["data"]["text/plain"]))  # the repr of a JSON string

    def graph(self) -> dict[str, Any]:
        """The session graph as ``%graph json`` prints it (read silently)."""
        return self.value("get_ipython()._agentcore_session.cells.graph.to_dict()")  # type: ignore[no-any-return]

    def snapshot(self) -> dict[str, Any]:
        return self.value("get_ipython()._agentcore_session.cells.snapshot()")  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ comms
    def comm_open(self, target: str, data: dict[str, Any] | None = None) -> str:
        comm_id = uuid.uuid4().hex
        msg = self.client.session.msg(
            "comm_open", {"comm_id": comm_id, "target_name": target, "data": data or {}}
        )
        self.client.shell_channel.send(msg)
        return comm_id

    def comm_send(self, comm_id: str, data: dict[str, Any]) -> None:
        msg = self.client.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        self.client.shell_channel.send(msg)

    def comm_messages(self, comm_id: str, count: int, timeout: float = 60) -> list[dict[str, Any]]:
        """Wait for ``count`` comm_msg messages on ``comm_id`` (taken from stray iopub traffic)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [
                m
                for m in self.stray
                if m["header"]["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id
            ]
            if len(found) >= count:
                for m in found:
                    self.stray.remove(m)
                return found
            try:
                self.stray.append(self.client.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                raise TimeoutError(f"only {len(found)} of {count} comm messages on {comm_id}") from None

    def close(self) -> None:
        self.client.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def module_home() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="agentcore-nbtest-") as home:
        yield home


@pytest.fixture(scope="module")
def kernel(module_home: str) -> Iterator[Kernel]:
    """The installed AgentCore kernel, shared by the tests of one module."""
    k = Kernel("agentcore", module_home)
    try:
        yield k
    finally:
        k.close()


@pytest.fixture
def fresh(kernel: Kernel) -> Kernel:
    """The module's kernel with an empty notebook graph and a clean namespace."""
    kernel.ok("%reset -f\n%graph reset")
    kernel.stray.clear()
    return kernel


def cell_id() -> str:
    return uuid.uuid4().hex[:8]


NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
