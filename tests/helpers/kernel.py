"""Drive a real Jupyter kernel over the protocol (jupyter_client) and collect what a cell produced."""

from __future__ import annotations

import contextlib
import os
import queue
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.manager import KernelManager


@dataclass
class CellResult:
    reply: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.reply["content"]["status"]

    def of_type(self, msg_type: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["header"]["msg_type"] == msg_type]

    @property
    def stdout(self) -> str:
        return "".join(
            m["content"]["text"] for m in self.of_type("stream") if m["content"]["name"] == "stdout"
        )

    @property
    def stderr(self) -> str:
        return "".join(
            m["content"]["text"] for m in self.of_type("stream") if m["content"]["name"] == "stderr"
        )

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [m["content"] for m in self.of_type("error")]

    @property
    def data(self) -> list[dict[str, Any]]:
        """``data`` bundles of execute_result and display_data messages, in order."""
        return [
            m["content"]["data"]
            for m in self.messages
            if m["header"]["msg_type"] in ("execute_result", "display_data")
        ]

    def text(self) -> str:
        """stdout plus every text/plain result."""
        return self.stdout + "".join(d.get("text/plain", "") for d in self.data)


def collect(
    client: Any, msg_id: str, timeout: float, *, stray: list[dict[str, Any]] | None = None, what: str = ""
) -> CellResult:
    """What request ``msg_id`` produced on iopub until its kernel went idle, and its shell reply.
    Other iopub messages (comm traffic, other requests) go to ``stray`` when given. ``timeout``
    bounds each wait (a long cell that keeps printing is not cut short)."""
    messages = []
    while True:
        try:
            msg = client.get_iopub_msg(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no message within {timeout}s and no idle status{what}") from None
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            if stray is not None:
                stray.append(msg)
            continue
        if msg["header"]["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
        messages.append(msg)
    reply = client.get_shell_msg(timeout=timeout)
    while reply.get("parent_header", {}).get("msg_id") != msg_id:
        reply = client.get_shell_msg(timeout=timeout)
    return CellResult(reply, messages)


class KernelSession:
    def __init__(self, km: KernelManager) -> None:
        self.km = km
        self.client = km.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def execute(self, code: str, timeout: float = 60, **kwargs: Any) -> CellResult:
        msg_id = self.client.execute(code, **kwargs)
        return collect(self.client, msg_id, timeout, what=f" for: {code[:80]!r}")

    def close(self) -> None:
        self.client.stop_channels()
        self.km.shutdown_kernel(now=True)


@contextlib.contextmanager
def running_kernel(
    kernel_name: str = "python3", env: dict[str, str] | None = None, cwd: str | None = None
) -> Iterator[KernelSession]:
    """Start a kernel of an installed kernelspec (``python3``; ``agentcore`` once installed)."""
    km = KernelManager(kernel_name=kernel_name)
    full_env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    full_env.update(env or {})
    km.start_kernel(env=full_env, cwd=cwd)
    session = KernelSession(km)
    try:
        yield session
    finally:
        session.close()
