"""The trace and graph widgets in a real browser: JupyterLab on 127.0.0.1 (temporary HOME,
AGENTCORE_HOME and Jupyter dirs), Debian's chromium driven by Playwright, notebooks/07-tracing.ipynb
run on the AgentCore kernel. Assertions read the DOM; any browser console error fails the test.
Screenshots go to .cache/artifacts/ (ignored by git). JupyterLab starts once per module."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import NOTEBOOKS

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / ".cache" / "artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

from playwright import sync_api as playwright_api  # noqa: E402 (the dev extra)

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run .ci/setup (it installs Debian's chromium)")
    base = tmp_path_factory.mktemp("lab")
    dirs = {
        name: base / name for name in ("home", "agentcore", "config", "runtime", "settings", "work", "root")
    }
    for d in dirs.values():
        d.mkdir()
    news = dirs["settings"] / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    shutil.copy(NOTEBOOKS / "07-tracing.ipynb", dirs["root"] / "07-tracing.ipynb")
    port, token = _free_port(), uuid.uuid4().hex
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
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={dirs['root']}",
        f"--LabApp.user_settings_dir={dirs['settings']}", f"--LabApp.workspaces_dir={dirs['work']}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(base / "lab.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log.close()
                pytest.fail("JupyterLab did not start:\n" + (base / "lab.log").read_text()[-3000:])
            time.sleep(0.2)
    try:
        yield {"url": url, "token": token}
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


@pytest.fixture(scope="module")
def page(lab: dict[str, Any]) -> Iterator[Any]:
    """The tracing notebook open in JupyterLab, every cell run, widgets drawn."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        pg = browser.new_page(viewport={"width": 1500, "height": 1100})
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(f"{lab['url']}/lab/tree/07-tracing.ipynb?reset&token={lab['token']}")
        pg.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        # the execution indicator says "idle" before any kernel exists: wait for the kernel itself
        pg.get_by_text("AgentCore (Python 3) | Idle").first.wait_for(timeout=180_000)
        pg.locator(".jp-Notebook").first.click()
        pg.get_by_role("menuitem", name="Run", exact=True).click()
        pg.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            pg.wait_for_selector(".acg-node", timeout=300_000)  # %graph is the last cell
            pg.wait_for_selector(".act-row", timeout=60_000)
        except Exception:
            pg.screenshot(path=str(ARTIFACTS / "lab-failure.png"), full_page=True)
            outputs = pg.locator(".jp-OutputArea-output").all_inner_texts()
            pytest.fail(
                "the widgets did not appear; cell outputs:\n"
                + "\n---\n".join(o[:400] for o in outputs)
                + "\nconsole errors: "
                + "; ".join(errors)
            )
        pg.agentcore_errors = errors
        yield pg
        browser.close()


def _no_console_errors(pg: Any) -> None:
    assert pg.agentcore_errors == [], "browser console errors:\n" + "\n".join(pg.agentcore_errors)


def test_trace_widget_draws_the_run_and_opens_span_details(page: Any) -> None:
    trace = page.locator(".act-root").first
    trace.scroll_into_view_if_needed()
    names = page.locator(".act-row .act-name").all_inner_texts()
    for expected in (
        "invoke_workflow support-run",
        "execute_node fetch_a",
        "execute_node fetch_b",
        "execute_node flaky",
        "execute_tool chargeCard",
        "invoke_agent support",
        "invoke_agent billing",
        "chat offline-reasoner",
    ):
        assert expected in names
    assert page.locator(".act-row .act-bar").count() == len(names) == 13
    failed = page.locator(".act-row.act-error", has_text="execute_tool chargeCard")
    assert "card declined" in failed.locator(".act-reason").inner_text()
    header = page.locator(".act-header").inner_text()
    assert "retries 1" in header and "failures 3" in header and "critical path" in header

    def bar(name: str) -> tuple[float, float]:
        box = page.locator(".act-row", has_text=name).first.locator(".act-bar").bounding_box()
        return box["x"], box["x"] + box["width"]

    lanes = page.locator(".act-row .act-lane").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().left)"
    )
    assert max(lanes) - min(lanes) < 1  # one time axis for every depth
    a, b = bar("execute_node fetch_a"), bar("execute_node fetch_b")
    assert a[0] < b[1] and b[0] < a[1]  # parallel branches overlap on the time axis
    page.screenshot(path=str(ARTIFACTS / "trace-widget.png"), full_page=False)

    failed.click()
    page.wait_for_function(
        "document.querySelector('.act-detail-title')?.textContent === 'execute_tool chargeCard'",
        timeout=30_000,
    )
    detail = page.locator(".act-detail").inner_text()
    assert "error.type" in detail and "card declined" in detail
    trace.screenshot(path=str(ARTIFACTS / "trace-widget-detail.png"))

    page.locator(".act-filter", has_text="tool").locator("input").uncheck()
    assert "execute_tool chargeCard" not in page.locator(".act-row .act-name").all_inner_texts()
    page.locator(".act-filter", has_text="tool").locator("input").check()
    page.locator(".act-search").fill("billing")
    assert page.locator(".act-row .act-name").all_inner_texts() == ["invoke_agent billing"]
    page.locator(".act-search").fill("")
    _no_console_errors(page)


def test_graph_widget_draws_nodes_and_edges(page: Any) -> None:
    graph = page.locator(".acg-root").first
    graph.scroll_into_view_if_needed()
    nodes = page.locator(".acg-node").evaluate_all("els => els.map(e => e.dataset.node)")
    assert set(nodes) >= {"scenario", "report", "cell_1", "cell_2", "cell_3", "cell_4"}
    edges = page.locator(".acg-edge").evaluate_all(
        "els => els.map(e => [e.dataset.source, e.dataset.target])"
    )
    assert ["scenario", "report"] in edges
    assert all(page.locator(f".acg-node[data-node='{n}']").count() == 1 for n in nodes)
    page.locator(".acg-node[data-node='scenario']").click()
    detail = page.locator(".acg-detail").inner_text()
    assert "%%node scenario" in detail and "policy:" in detail and "last run:" in detail
    graph.screenshot(path=str(ARTIFACTS / "graph-widget.png"))
    _no_console_errors(page)
