"""The JupyterLab extension in a real browser (issue #14's acceptance): JupyterLab on 127.0.0.1 with
a temporary HOME and AGENTCORE_HOME, Debian's chromium driven by Playwright, notebooks/00-showcase.ipynb
run on the AgentCore kernel. The graph sidebar, the cell badges, the trace sidebar, the export
command (its bundle then runs with `agentcore run local`) and recovery after a kernel restart are
checked in the DOM; a stock python3 notebook shows the hint. Any browser console error fails.
Screenshots go to $AGENTCORE_TEST_ARTIFACTS (default .cache/artifacts/, ignored by git).

The tests run in file order on one page (each step builds on the one before)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.lab import CHROMIUM, LabFailed, jupyterlab, no_console_errors, notebook_page

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
BUILT = REPO / "agentcore_nb" / "labextension" / "package.json"
INSTALLED = (
    Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "agentcore-nb-labextension" / "package.json"
)
ARTIFACTS = Path(os.environ.get("AGENTCORE_TEST_ARTIFACTS") or REPO / ".cache" / "artifacts")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        not BUILT.exists() or not INSTALLED.exists(),
        reason="the JupyterLab extension is not built/installed (needs Node: run .ci/setup)",
    ),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent (.ci/setup installs it)"),
]

# The showcase's cells (by nbformat cell id) and what the graph calls them.
BIG = 60  # cells in the large notebook
LONG = 240_000  # ms: a busy 2-core machine (under the per-test timeout, so failures explain themselves)
ACTIVE_CELL_ID = (
    "(document.querySelector('.jp-Notebook .jp-Cell.jp-mod-active .acx-badge')?.dataset.cellId ?? null)"
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("labext")
    root = base / "root"
    shutil.copytree(NOTEBOOKS, root)
    stock = {
        "cells": [
            {"cell_type": "code", "id": "stock-1", "metadata": {}, "execution_count": None, "outputs": [],
             "source": "x = 1"},
            {"cell_type": "code", "id": "stock-2", "metadata": {}, "execution_count": None, "outputs": [],
             "source": "%load_ext agentcore_nb\ny = x + 1"},
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip
    (root / "stock.ipynb").write_text(json.dumps(stock))
    big = dict(
        stock,
        metadata={
            "kernelspec": {"name": "agentcore", "display_name": "AgentCore (Python 3)", "language": "python"}
        },
    )
    # 60 cells: a chain with a fan-out every 5th cell, so a tall graph with long edges
    big["cells"] = [
        {"cell_type": "code", "id": f"big-{i}", "metadata": {}, "execution_count": None, "outputs": [],
         "source": f"v{i} = {'v' + str(i - 1) if i % 5 else 'v0' if i else '0'} + 1"}
        for i in range(BIG)
    ]  # fmt: skip
    (root / "big.ipynb").write_text(json.dumps(big))
    try:
        with jupyterlab(base, root) as server:
            server["root"] = root
            yield server
    except LabFailed as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def page(lab: dict[str, Any]) -> Iterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with notebook_page(lab, "00-showcase.ipynb", {"width": 1600, "height": 1000}, 60_000) as pg:
        pg.agentcore_lab = lab
        yield pg


_no_console_errors = no_console_errors


def _fail(pg: Any, what: str, name: str) -> None:
    pg.screenshot(path=str(ARTIFACTS / f"labext-failure-{name}.png"))
    status = pg.locator("#agentcore-graph-panel .acx-status").all_inner_texts()
    pytest.fail(f"{what}; graph panel says {status}; console errors: {pg.agentcore_errors}")


def _wait(pg: Any, expression: str, what: str, name: str, arg: Any = None, timeout: int = LONG) -> None:
    try:
        pg.wait_for_function(expression, arg=arg, timeout=timeout)
    except Exception:
        _fail(pg, what, name)


def _nodes(pg: Any) -> dict[str, dict[str, str]]:
    return {
        n["node"]: n
        for n in pg.locator("#agentcore-graph-panel .acx-node").evaluate_all(
            "els => els.map(e => ({node: e.dataset.node, state: e.dataset.state, kind: e.dataset.kind}))"
        )
    }


def _edges(pg: Any) -> list[list[str]]:
    return pg.locator("#agentcore-graph-panel .acx-edge").evaluate_all(
        "els => els.map(e => [e.dataset.source, e.dataset.target])"
    )


def _badges(pg: Any) -> dict[str, dict[str, str]]:
    """The cell badges by cell id (the extension writes the cell's id on its badge)."""
    found = pg.locator(".jp-Notebook .jp-CodeCell .acx-badge").evaluate_all(
        "els => els.map(e => ({...e.dataset}))"
    )
    return {b.pop("cellId"): b for b in found}


def _wait_idle(pg: Any, name: str) -> None:
    """Every code cell of the open notebook has run (a number in its prompt) and the kernel is idle."""
    _wait(
        pg,
        """() => {
          const prompts = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt')];
          return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent))
            && !!document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status="idle"]');
        }""",
        "the notebook did not finish running",
        name,
    )


def _graph_status(pg: Any) -> str:
    return pg.locator("#agentcore-graph-panel").get_attribute("data-status") or ""


# What the showcase's graph is made of, by nbformat cell id: (node name, kind).
EXPECTED = {
    "c34bcb0f": ("cell_1", "tool"),  # %%tool getOrderStatus
    "dee1ce05": ("cell_2", "tool"),  # %tool call
    "d41b1bfa": ("cell_3", "python"),  # project, memory
    "a9f4c675": ("cell_4", "python"),  # reads project
    "621d33b2": ("cell_5", "code"),  # %%code
    "4e2b1e3e": ("cell_6", "agent"),  # %%agent billing
    "11ed9e07": ("cell_7", "agent"),  # %%agent support
    "776f41f7": ("cell_8", "agent"),  # %agent support "..."
    "1a902521": ("cell_9", "python"),  # result = _agent_result
    "6c4d6344": ("cell_10", "python"),  # replay: reads project and result
}


def test_graph_panel_shows_the_showcase_graph(page: Any) -> None:
    page.locator(".acx-toolbar-agentcore-graph:visible").first.click()
    _wait(
        page,
        "() => document.querySelector('#agentcore-graph-panel')?.dataset.status === 'live'",
        "the graph panel did not connect to the kernel",
        "connect",
    )
    page.locator(".jp-Notebook:visible").first.click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    _wait_idle(page, "run-all")
    _wait(
        page,
        "n => document.querySelectorAll('#agentcore-graph-panel .acx-node').length >= n",
        "the graph panel did not draw the showcase's nodes",
        "nodes",
        arg=len(EXPECTED),
    )
    nodes = _nodes(page)
    for name, kind in EXPECTED.values():
        assert nodes[name]["kind"] == kind, nodes
        assert nodes[name]["state"] == "fresh", nodes
    edges = _edges(page)
    assert len(edges) >= 1 and ["cell_3", "cell_4"] in edges and ["cell_3", "cell_10"] in edges, edges
    # every code cell of the graph wears its badge: kind and state next to the prompt
    badges = _badges(page)
    for cell_id, (name, kind) in EXPECTED.items():
        assert badges[cell_id] == {"node": name, "kind": kind, "state": "fresh"}, badges[cell_id]
    page.screenshot(path=str(ARTIFACTS / "labext-graph-panel.png"))
    _no_console_errors(page)


def test_clicking_a_node_selects_its_cell_and_the_active_cell_lights_its_node(page: Any) -> None:
    page.locator("#agentcore-graph-panel .acx-node[data-node='cell_7']").click()
    _wait(
        page,
        f"id => {ACTIVE_CELL_ID} === id",
        "the node's cell did not become active",
        "click",
        arg="11ed9e07",
        timeout=60_000,
    )
    assert (
        "%%agent support"
        in page.locator(".jp-Notebook .jp-Cell.jp-mod-active .jp-InputArea-editor").inner_text()
    )
    assert page.locator("#agentcore-graph-panel .acx-node.acx-active").evaluate_all(
        "els => els.map(e => e.dataset.node)"
    ) == ["cell_7"]
    # the other way: make another cell active, its node lights up
    page.locator(".acx-badge[data-node='cell_2']").click()  # the badge is part of its cell
    _wait(
        page,
        "() => [...document.querySelectorAll('#agentcore-graph-panel .acx-node.acx-active')].map(e => e.dataset.node).join() === 'cell_2'",
        "the active cell's node was not highlighted",
        "highlight",
        timeout=60_000,
    )
    _no_console_errors(page)


def test_rerunning_an_edited_upstream_cell_marks_downstream_badges_stale(page: Any) -> None:
    cell = page.locator(".jp-Notebook .jp-CodeCell", has=page.locator(".acx-badge[data-node='cell_3']"))
    editor = cell.locator(".jp-InputArea-editor .cm-content")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n# edited in the browser test")
    page.keyboard.press("Control+Enter")
    _wait(
        page,
        """() => {
          const state = n => document.querySelector(`.acx-badge[data-node='${n}']`)?.dataset.state;
          return state('cell_4') === 'stale' && state('cell_10') === 'stale' && state('cell_3') === 'fresh';
        }""",
        "the downstream badges did not turn stale",
        "stale",
    )
    nodes = _nodes(page)
    assert nodes["cell_4"]["state"] == nodes["cell_10"]["state"] == "stale"
    assert nodes["cell_5"]["state"] == "fresh"  # not downstream of cell_3
    assert cell.locator(".acx-badge").inner_text().split() == ["python", "fresh"]
    stale = page.locator(".jp-Notebook .jp-CodeCell.acx-cell-stale .acx-badge").evaluate_all(
        "els => els.map(e => e.dataset.node)"
    )
    assert sorted(stale) == ["cell_10", "cell_4"]
    page.locator(".jp-Notebook .jp-CodeCell.acx-cell-stale").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "labext-stale-badges.png"))
    # "Run stale" (toolbar) re-runs them through the engine: fresh again
    page.locator(".acx-toolbar-agentcore-run-stale:visible").first.click()
    _wait(
        page,
        """() => {
          const state = n => document.querySelector(`.acx-badge[data-node='${n}']`)?.dataset.state;
          return state('cell_4') === 'fresh' && state('cell_10') === 'fresh';
        }""",
        "Run stale did not make the stale cells fresh",
        "run-stale",
    )
    _wait(
        page,
        "() => /Run stale cells: done/.test(document.querySelector('#agentcore-graph-panel .acx-status')?.textContent ?? '')",
        "Run stale did not report its end",
        "run-stale-done",
        timeout=120_000,
    )
    _no_console_errors(page)


def test_trace_panel_shows_the_agent_runs_spans(page: Any) -> None:
    page.locator(".acx-toolbar-agentcore-traces:visible").first.click()
    _wait(
        page,
        "() => document.querySelectorAll('#agentcore-trace-panel .acx-run').length >= 2",
        "the trace panel listed no runs",
        "runs",
        timeout=120_000,
    )
    runs = page.locator("#agentcore-trace-panel .acx-run").evaluate_all(
        "els => els.map(e => ({kind: e.dataset.kind, status: e.dataset.status, name: e.querySelector('.acx-run-name').textContent}))"
    )
    kinds = [r["kind"] for r in runs]
    assert "notebook" in kinds and "agent" in kinds, runs
    # newest first: the notebook run (opened with the first cell) comes after the agent runs it holds
    assert kinds.index("agent") < kinds.index("notebook"), runs
    agent_rows = page.locator("#agentcore-trace-panel .acx-run[data-kind='agent']")
    agent_rows.last.click()
    _wait(
        page,
        "() => [...document.querySelectorAll('#agentcore-trace-panel .acx-span-name')].some(e => e.textContent === 'invoke_agent billing')",
        "the agent run's spans did not appear",
        "trace",
        timeout=120_000,
    )
    names = page.locator("#agentcore-trace-panel .acx-span-name").all_inner_texts()
    for expected in (
        "invoke_agent support",
        "invoke_agent billing",
        "chat offline-reasoner",
        "execute_tool getOrderStatus",
    ):
        assert expected in names, names
    assert page.locator("#agentcore-trace-panel .acx-span .acx-bar").count() == len(names)
    # tree: the sub-agent is indented under the agent that called it
    pad = {
        n: page.locator("#agentcore-trace-panel .acx-span-name", has_text=n).first.evaluate(
            "e => parseFloat(e.style.paddingLeft)"
        )
        for n in ("invoke_agent support", "invoke_agent billing")
    }
    assert pad["invoke_agent billing"] > pad["invoke_agent support"]
    page.screenshot(path=str(ARTIFACTS / "labext-trace-panel.png"))
    _no_console_errors(page)


def test_export_command_writes_a_bundle_that_runs_local(page: Any) -> None:
    root: Path = page.agentcore_lab["root"]
    page.locator(".jp-Notebook:visible").first.click()
    page.locator(".acx-toolbar-agentcore-export:visible").first.click()
    field = page.locator(".jp-Dialog input.acx-export-path")
    assert field.input_value() == "build/00-showcase-bundle"
    page.locator(".jp-Dialog .jp-mod-accept").click()
    _wait(
        page,
        "() => !!document.querySelector('#agentcore-graph-panel .acx-report-ok, #agentcore-graph-panel .acx-report-refused')"
        " && !/Exporting/.test(document.querySelector('#agentcore-graph-panel .acx-report').textContent)",
        "the export did not finish",
        "export",
    )
    report = page.locator("#agentcore-graph-panel .acx-report").inner_text()
    assert page.locator("#agentcore-graph-panel .acx-report-ok").count() == 1, report
    bundle = root / "build" / "00-showcase-bundle"
    assert str(bundle) in report and (bundle / "graph.json").exists() or any(bundle.iterdir()), report
    env = dict(page.agentcore_lab["env"])
    run = subprocess.run(
        [str(Path(sys.executable).parent / "agentcore"), "run", "local", str(bundle)],
        cwd=root, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    _no_console_errors(page)


def test_export_refusal_links_to_the_cells(page: Any) -> None:
    """A name no cell defines makes the notebook unsound: the report's link selects that cell."""
    page.locator(".jp-Notebook:visible").first.click()
    page.locator(".jp-Notebook .jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")  # a new code cell below, in edit mode after Enter
    page.keyboard.press("Enter")
    page.keyboard.type("print(undefined_name_for_the_test)")
    page.keyboard.press("Escape")
    page.locator(".acx-toolbar-agentcore-export:visible").first.click()
    page.locator(".jp-Dialog input.acx-export-path").fill("build/refused-bundle")
    page.locator(".jp-Dialog .jp-mod-accept").click()
    _wait(
        page,
        "() => !!document.querySelector('#agentcore-graph-panel .acx-report-refused')",
        "the unsound export was not refused",
        "refused",
        timeout=120_000,
    )
    assert not (page.agentcore_lab["root"] / "build" / "refused-bundle").exists()
    links = page.locator("#agentcore-graph-panel .acx-report-link")
    assert links.count() >= 1, page.locator("#agentcore-graph-panel .acx-report").inner_text()
    # the kernel's structured problem, not its text: its kind and the cell's position
    unbound = page.locator("#agentcore-graph-panel .acx-report-problem[data-kind='unbound'] .acx-report-link")
    assert unbound.count() == 1, page.locator("#agentcore-graph-panel .acx-report").inner_html()
    cells = page.locator(".jp-Notebook:visible .jp-Cell").count()
    assert unbound.get_attribute("data-cell-index") == str(cells)
    page.locator(".jp-Notebook:visible .jp-Cell").first.click()  # move away, then follow the link
    links.first.click()
    _wait(
        page,
        "() => /undefined_name_for_the_test/.test(document.querySelector('.jp-Notebook .jp-Cell.jp-mod-active')?.textContent ?? '')",
        "the report's link did not select the unsound cell",
        "refused-link",
        timeout=60_000,
    )
    # put the notebook back as it was
    page.locator(".jp-Notebook .jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("d")
    page.keyboard.press("d")
    _no_console_errors(page)


def test_kernel_restart_the_panel_says_so_and_recovers(page: Any) -> None:
    page.locator(".acx-toolbar-agentcore-graph:visible").first.click()
    assert _graph_status(page) == "live"
    page.get_by_role("menuitem", name="Kernel", exact=True).click()
    page.get_by_role("menuitem", name="Restart Kernel…").click()
    page.locator(".jp-Dialog .jp-mod-accept").click()
    # back: a new session, an empty graph, still connected
    _wait(
        page,
        "() => document.querySelector('#agentcore-graph-panel')?.dataset.status === 'live'"
        " && document.querySelectorAll('#agentcore-graph-panel .acx-node').length === 0",
        "the graph panel did not recover after the restart",
        "restart",
    )
    page.get_by_text("AgentCore (Python 3) | Idle").first.wait_for(timeout=LONG)
    # the first code cell runs again: its node is back, fresh, with its badge
    cell = page.locator(".jp-Notebook .jp-CodeCell").nth(1)
    cell.locator(".jp-InputArea-prompt").click()
    page.keyboard.press("Control+Enter")
    _wait(
        page,
        "() => [...document.querySelectorAll('#agentcore-graph-panel .acx-node')].map(e => e.dataset.node).join() === 'cell_1'"
        " && document.querySelector('.acx-badge[data-node=cell_1]')?.dataset.state === 'fresh'",
        "the graph did not follow the restarted kernel",
        "after-restart",
    )
    page.screenshot(path=str(ARTIFACTS / "labext-after-restart.png"))
    _no_console_errors(page)


def test_stock_python3_kernel_shows_the_hint_until_the_extension_loads(page: Any) -> None:
    lab = page.agentcore_lab
    page.goto(f"{lab['url']}/lab/tree/stock.ipynb?token={lab['token']}")
    page.get_by_text("Python 3 (ipykernel) | Idle").first.wait_for(timeout=LONG)
    page.locator(".acx-toolbar-agentcore-graph:visible").first.click()
    _wait(
        page,
        "() => document.querySelector('#agentcore-graph-panel')?.dataset.status === 'nocomm'",
        "no hint for a kernel without the graph comm",
        "stock",
        timeout=120_000,
    )
    hint = page.locator("#agentcore-graph-panel .acx-status.acx-hint").inner_text()
    assert "AgentCore" in hint and "%load_ext agentcore_nb" in hint and "\n" not in hint.strip()
    assert page.locator("#agentcore-graph-panel .acx-node").count() == 0
    # `%load_ext agentcore_nb` gives the stock kernel the comm: the panel connects
    page.locator(".jp-Notebook:visible").first.click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    _wait(
        page,
        "() => document.querySelector('#agentcore-graph-panel')?.dataset.status === 'live'",
        "the panel did not connect after %load_ext agentcore_nb",
        "load-ext",
    )
    _no_console_errors(page)


def test_malformed_and_out_of_order_messages_refresh_the_graph(page: Any) -> None:
    """The kernel side sends junk and a seq gap on the open comm: the panel refreshes, stays live."""
    before = int(page.locator("#agentcore-graph-panel").get_attribute("data-recoveries") or 0)
    page.locator(".jp-Notebook:visible .jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type(
        "import comm\n"
        "for c in list(comm.get_comm_manager().comms.values()):\n"
        "    if c.target_name == 'agentcore.graph':\n"
        "        c.send('not an object'); c.send({'v': 1, 'type': 'changes', 'seq': 10**9, 'changes': []})\n"
    )
    page.keyboard.press("Control+Enter")
    _wait(
        page,
        "n => { const p = document.querySelector('#agentcore-graph-panel');"
        " return Number(p.dataset.recoveries) >= n + 2 && p.dataset.status === 'live'"
        " && document.querySelectorAll('#agentcore-graph-panel .acx-node').length >= 1; }",
        "the panel did not recover from bad messages",
        "bad-messages",
        arg=before,
    )
    _wait(
        page,
        "() => (document.querySelector('#agentcore-graph-panel .acx-status')?.textContent ?? '') === ''",
        "the recovery note did not clear after the fresh snapshot",
        "bad-messages-cleared",
        timeout=120_000,
    )
    _no_console_errors(page)


def test_closing_a_notebook_while_its_cell_runs_leaves_the_panels_working(page: Any) -> None:
    """Close the stock notebook while a cell streams output: the sidebars follow the showcase."""
    page.locator(".jp-Notebook:visible .jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type("import time\nfor i in range(600):\n    print(i, flush=True); time.sleep(0.1)\n")
    page.keyboard.press("Control+Enter")
    page.locator(".jp-Notebook:visible .jp-OutputArea-output", has_text="3").first.wait_for(timeout=LONG)
    page.locator(".acx-toolbar-agentcore-traces:visible").first.click()
    page.locator(".jp-Notebook:visible").first.click()
    page.keyboard.press("Escape")
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="stock.ipynb").locator(
        ".lm-TabBar-tabCloseIcon"
    ).click()
    page.locator(".jp-Dialog").get_by_role("button", name="Discard").click()
    _wait(
        page,
        "() => document.querySelector('#agentcore-graph-panel .acx-header')?.textContent === '00-showcase.ipynb'"
        " && document.querySelector('#agentcore-graph-panel')?.dataset.status === 'live'",
        "the graph panel did not go back to the open notebook",
        "closed",
        timeout=120_000,
    )
    page.locator(".acx-toolbar-agentcore-traces:visible").first.click()
    _wait(
        page,
        "() => document.querySelectorAll('#agentcore-trace-panel .acx-run').length >= 1",
        "the trace panel did not list the open notebook's runs",
        "closed-traces",
        timeout=120_000,
    )
    _no_console_errors(page)


def test_a_60_node_graph_stays_readable_and_pans(page: Any) -> None:
    lab = page.agentcore_lab
    page.goto(f"{lab['url']}/lab/tree/big.ipynb?token={lab['token']}")
    page.get_by_text("AgentCore (Python 3) | Idle").first.wait_for(timeout=LONG)
    page.locator(".acx-toolbar-agentcore-graph:visible").first.click()
    page.locator(".jp-Notebook:visible").first.click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    _wait(
        page,
        "n => document.querySelectorAll('#agentcore-graph-panel .acx-node').length === n",
        "the 60-cell graph was not drawn",
        "big",
        arg=BIG,
    )
    _wait_idle(page, "big-run")
    boxes = page.locator("#agentcore-graph-panel .acx-node .acx-node-box").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })"
    )
    assert len(boxes) == BIG
    assert min(b[3] for b in boxes) >= 23.5  # 40 px boxes never drawn below 0.6: names stay legible
    for i, a in enumerate(boxes):  # no two nodes overlap
        for b in boxes[i + 1 :]:
            assert (
                a[0] + a[2] <= b[0] + 0.5
                or b[0] + b[2] <= a[0] + 0.5
                or a[1] + a[3] <= b[1] + 0.5
                or b[1] + b[3] <= a[1] + 0.5
            )
    assert len(_edges(page)) >= BIG - 1
    svg = page.locator("#agentcore-graph-panel .acx-graph-svg")
    before = page.locator("#agentcore-graph-panel .acx-graph-root").get_attribute("transform")
    svg.hover()
    page.mouse.wheel(0, 600)  # the wheel scrolls a tall graph
    _wait(
        page,
        "t => document.querySelector('#agentcore-graph-panel .acx-graph-root').getAttribute('transform') !== t",
        "the wheel did not scroll the graph",
        "big-scroll",
        arg=before,
        timeout=30_000,
    )
    page.screenshot(path=str(ARTIFACTS / "labext-graph-60-nodes.png"))
    _no_console_errors(page)
