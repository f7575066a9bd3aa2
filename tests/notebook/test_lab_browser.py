"""The trace and graph widgets in a real browser: JupyterLab on 127.0.0.1 (temporary HOME,
AGENTCORE_HOME and Jupyter dirs), Debian's chromium driven by Playwright, notebooks/07-tracing.ipynb
run on the AgentCore kernel. Assertions read the DOM; any browser console error fails the test.
Screenshots go to .cache/artifacts/ (ignored by git). JupyterLab starts once per module."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..helpers.lab import CHROMIUM, LabFailed, jupyterlab, no_console_errors, notebook_page
from .conftest import NOTEBOOKS

ARTIFACTS = Path(__file__).resolve().parents[2] / ".cache" / "artifacts"


pytestmark = pytest.mark.slow


BIG = 10_000
#: One cell: a 10,000-span trace (a root, 100 agents of 99 spans each) shown in the trace widget.
BIG_CELL = f"""
import time
from agentcore_nb.notebook.views.trace import TraceWidget
from agentcore_nb.observability import conventions as conv
from agentcore_nb.observability.store import SpanRecord

t0 = time.time_ns()
T = "b" * 32
recs = [SpanRecord(T, "root", "", "big", "invoke_workflow big", t0, t0 + 2_600_000_000, "ok", "",
                   {{conv.OPERATION: conv.INVOKE_WORKFLOW, conv.RUN_ID: "big"}})]
for a in range(100):
    start = t0 + a * 25_000_000
    recs.append(SpanRecord(T, f"a{{a}}", "root", "big", f"invoke_agent a{{a}}", start, start + 20_000_000, "ok", "",
                           {{conv.OPERATION: conv.INVOKE_AGENT, conv.NODE_KIND: "agent"}}))
    for j in range(99 if a else 98):
        s = start + j * 200_000
        recs.append(SpanRecord(T, f"a{{a}}-{{j}}", f"a{{a}}", "big", f"execute_tool t{{a}}_{{j}}", s, s + 150_000,
                               "ok", "", {{conv.OPERATION: conv.EXECUTE_TOOL, conv.NODE_KIND: "tool"}}))
assert len(recs) == {BIG}, len(recs)
TraceWidget(None, "big", records=recs)
"""


def _big_trace_notebook(kernelspec: dict[str, Any]) -> dict[str, Any]:
    cell = {"cell_type": "code", "id": "big", "metadata": {}, "execution_count": None, "outputs": [],
            "source": BIG_CELL.strip()}  # fmt: skip
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": kernelspec}, "cells": [cell]}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run .ci/setup (it installs Debian's chromium)")
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    root.mkdir()
    shutil.copy(NOTEBOOKS / "07-tracing.ipynb", root / "07-tracing.ipynb")
    kernelspec = json.loads((NOTEBOOKS / "07-tracing.ipynb").read_text())["metadata"]["kernelspec"]
    (root / "big-trace.ipynb").write_text(json.dumps(_big_trace_notebook(kernelspec)))
    try:
        with jupyterlab(base, root) as server:
            yield server
    except LabFailed as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def page(lab: dict[str, Any]) -> Iterator[Any]:
    """The tracing notebook open in JupyterLab, every cell run, widgets drawn."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with notebook_page(lab, "07-tracing.ipynb", {"width": 1500, "height": 1100}) as pg:
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
                + "; ".join(pg.agentcore_errors)
            )
        yield pg


_no_console_errors = no_console_errors


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
        "embeddings hash-384",  # the offline reasoner matches tools by embedding
    ):
        assert expected in names
    assert page.locator(".act-row .act-bar").count() == len(names) == 16
    failed = page.locator(".act-row.act-error", has_text="execute_tool chargeCard")
    assert "card declined" in failed.locator(".act-reason").inner_text()
    header = page.locator(".act-header").inner_text()
    assert "retries 1" in header and "failures 3" in header and "critical path" in header
    _assert_time_axis(page.locator(".act-root").first)

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


def _assert_time_axis(trace: Any) -> None:
    """Tick labels with a unit, evenly spaced in value and on screen, the first at the lane's start."""
    ticks = trace.locator(".act-tick").evaluate_all(
        "els => els.map(e => ({text: e.textContent, ms: Number(e.dataset.ms), "
        "x: e.getBoundingClientRect().left + parseFloat(getComputedStyle(e, '::before').left)}))"
    )
    lane = trace.locator(".act-axis-lane").bounding_box()
    assert len(ticks) >= 2, ticks
    units = {t["text"].rsplit(" ", 1)[1] for t in ticks}
    assert units in ({"ms"}, {"s"}), ticks
    values = [float(t["text"].split(" ")[0]) * (1000 if units == {"s"} else 1) for t in ticks]
    assert values[0] == 0 and values == sorted(values) and len(set(values)) == len(values)
    assert all(abs(v - t["ms"]) < 1e-6 * max(1.0, v) for v, t in zip(values, ticks, strict=True))
    steps = [b - a for a, b in zip(values, values[1:], strict=False)]
    assert max(steps) - min(steps) < 1e-6 * max(steps)
    xs = [t["x"] for t in ticks]
    assert abs(xs[0] - lane["x"]) < 2  # 0 is where the lane (and the root's bar) starts
    gaps = [b - a for a, b in zip(xs, xs[1:], strict=False)]
    assert min(gaps) > 20 and max(gaps) - min(gaps) < 2, xs
    assert xs[-1] <= lane["x"] + lane["width"] + 1


def test_a_10k_span_trace_stays_responsive_and_bounded(page: Any, lab: dict[str, Any]) -> None:
    """10,000 spans: drawn quickly, only the visible rows in the DOM, collapse/expand, scroll, search."""
    errors: list[str] = []
    big = page.context.browser.new_page(viewport={"width": 1500, "height": 1000})
    big.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    big.on("pageerror", lambda e: errors.append(str(e)))
    try:
        big.goto(f"{lab['url']}/lab/tree/big-trace.ipynb?reset&token={lab['token']}")
        big.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        big.get_by_text("AgentCore (Python 3) | Idle").first.wait_for(timeout=180_000)
        big.locator(".jp-Notebook").first.click()
        big.get_by_role("menuitem", name="Run", exact=True).click()
        big.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            big.wait_for_selector(".act-row", timeout=180_000)
        except Exception:
            big.screenshot(path=str(ARTIFACTS / "trace-10k-failure.png"), full_page=True)
            outputs = big.locator(".jp-OutputArea-output").all_inner_texts()
            pytest.fail("the 10k trace did not appear; outputs:\n" + "\n".join(o[:600] for o in outputs))
        trace = big.locator(".act-root").first
        assert f"spans {BIG}" in trace.locator(".act-header").inner_text()
        render_ms = big.evaluate(
            "Math.max(...performance.getEntriesByName('act-render').map(e => e.duration))"
        )
        rows = big.locator(".act-row").count()
        assert 5 <= rows <= 60, rows  # virtualised: a screenful of rows, not 10,000
        _assert_time_axis(trace)
        big.screenshot(path=str(ARTIFACTS / "trace-widget-10k.png"))

        toggle = """() => {
            const t = document.querySelector('.act-row .act-toggle');
            const start = performance.now();
            t.click();  // collapse or expand the root: the refresh runs synchronously in the handler
            return [performance.now() - start, document.querySelectorAll('.act-row').length];
        }"""
        collapse_ms, after_collapse = big.evaluate(toggle)
        assert after_collapse == 1  # the root alone
        expand_ms, after_expand = big.evaluate(toggle)
        assert 5 <= after_expand <= 60  # the screenful again

        big.locator(".act-scroller").first.evaluate("e => { e.scrollTop = e.scrollHeight; }")
        big.wait_for_function(
            "[...document.querySelectorAll('.act-row .act-name')].some(e => e.textContent === 'execute_tool t99_98')",
            timeout=30_000,
        )
        assert big.locator(".act-row").count() <= 60
        big.locator(".act-search").fill("t42_")
        names = big.locator(".act-row .act-name").all_inner_texts()
        assert names and all(n.startswith("execute_tool t42_") for n in names) and len(names) <= 60
        search_ms = big.evaluate("performance.getEntriesByName('act-refresh').at(-1).duration")
        print(f"10k spans: render {render_ms:.0f} ms, collapse {collapse_ms:.0f} ms, "
              f"expand {expand_ms:.0f} ms, search {search_ms:.0f} ms, {rows} rows in the DOM")  # fmt: skip
        # generous deadlines (a busy 2-core machine): each is a few ms to tens of ms when idle
        assert render_ms < 3000 and collapse_ms < 1500 and expand_ms < 1500 and search_ms < 1500
        assert errors == [], "browser console errors:\n" + "\n".join(errors)
    finally:
        big.close()


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
