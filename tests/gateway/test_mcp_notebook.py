"""MCP results in a real kernel: an image-returning tool of a public reference server shows as
image/png display data, progress as an ipywidgets bar, server stderr nowhere in the cell, and a
cell interrupt reaches the server as MCP's notifications/cancelled."""

from __future__ import annotations

import base64
import json
import queue
import sys
import time

import pytest

from tests.helpers.kernel import running_kernel

from .servers import EVERYTHING_JS, ROGUE, reference_server

# the kernel's own gateway (the one %tool uses), so a registration is seen by the next %tool call
GATEWAY = (
    "from agentcore_nb.notebook.extension import get_session\n"
    "_gateway = get_session(get_ipython()).project.services['gateway']"
)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    home = tmp_path_factory.mktemp("mcp-kernel")
    with running_kernel("agentcore", env={"AGENTCORE_HOME": str(home), "NO_COLOR": "1"}) as k:
        k.home = home
        yield k


def test_image_tool_shows_an_image_and_progress_a_widget(kernel):
    server = f"node {reference_server(EVERYTHING_JS)}"
    registered = kernel.execute(
        f"{GATEWAY}\n_regs = _gateway.register_mcp({server!r}, prefix='ev')",
        timeout=120,
    )
    assert registered.status == "ok", registered.errors
    assert "Starting default" not in registered.stdout + registered.stderr
    shown = kernel.execute("%tool call ev_get-tiny-image", timeout=120)
    assert shown.status == "ok", shown.errors
    images = [d for d in shown.data if "image/png" in d]
    assert len(images) == 1
    assert base64.b64decode(images[0]["image/png"]).startswith(b"\x89PNG\r\n\x1a\n")
    widget = "application/vnd.jupyter.widget-view+json"  # the progress bar, hidden until progress comes
    texts = [d["text/plain"] for d in shown.data if "image/png" not in d and widget not in d]
    assert texts[:2] == ["Here's the image you requested:", "The image above is the MCP logo."]
    assert "Starting default" not in shown.stdout + shown.stderr
    progress = kernel.execute(
        '%tool call ev_trigger-long-running-operation \'{"duration": 0.6, "steps": 3}\'', timeout=120
    )
    assert progress.status == "ok", progress.errors
    opened = [
        m
        for m in progress.of_type("comm_open")
        if m["content"]["data"]["state"].get("_model_name") == "FloatProgressModel"
    ]
    assert len(opened) == 1
    comm_id = opened[0]["content"]["comm_id"]
    updates = [
        m["content"]["data"].get("state", {})
        for m in progress.of_type("comm_msg")
        if m["content"]["comm_id"] == comm_id
    ]
    assert any(u.get("bar_style") == "success" for u in updates)  # set once progress had arrived
    assert "Long running operation completed" in progress.text()


def test_a_cell_interrupt_cancels_the_call_on_the_server(kernel, tmp_path):
    marker = tmp_path / "marker"
    server = f"{sys.executable} {ROGUE} serve"
    r = kernel.execute(
        f"{GATEWAY}\n_regs = _gateway.register_mcp({server!r}, prefix='rogue', "
        f"env={{'ROGUE_MARKER': {str(marker)!r}}})",
        timeout=120,
    )
    assert r.status == "ok", r.errors
    msg_id = kernel.client.execute("%tool call rogue_slow")
    deadline = time.monotonic() + 60
    while not (marker.exists() and "started" in marker.read_text()):
        assert time.monotonic() < deadline, "the slow tool never started"
        time.sleep(0.05)
    kernel.km.interrupt_kernel()
    errors = []
    while True:
        try:
            msg = kernel.client.get_iopub_msg(timeout=60)
        except queue.Empty:
            raise AssertionError("the cell did not end after the interrupt") from None
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if msg["header"]["msg_type"] == "error":
            errors.append(msg["content"]["ename"])
        if msg["header"]["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    assert errors == ["KeyboardInterrupt"]
    deadline = time.monotonic() + 30
    while "cancelled" not in marker.read_text():
        assert time.monotonic() < deadline, marker.read_text()
        time.sleep(0.05)
    after = kernel.execute("%tool call rogue_noisy")  # the next call works, and its stderr stays out
    assert after.status == "ok" and "quiet answer" in after.text() and "noisy:" not in after.stderr
    verbose = kernel.execute("%tool call rogue_noisy --verbose")
    assert "noisy: warming up" in verbose.stderr
    _ = json
