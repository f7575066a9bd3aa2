"""Trace widget front end: a 10,000-span trace drawn in Debian's chromium (headless, Playwright).

The widget's own ESM (``notebook/views/trace_front.js``) runs in a bare page with a minimal
anywidget model holding the real state (``traceview.trace_state`` of a synthetic 10,000-span
trace: a root, 100 agents, 99 tool/chat spans each). The peer, in the same page and run, draws the
same rows the plain way: one DOM row per span (name, duration, a bar), no virtualisation.
Measured in the page (``performance.now``), medians over repeats:
  render   first draw of the widget vs the plain full table
  toggle   collapsing then expanding the root (a full refresh each)
  search   typing a query (a full pass over the 10,000 rows)
  rows     rows in the DOM after the first draw (ours: a screenful)
Bars: ``render_vs_full_table`` <= 0.5 and ``toggle_ms`` <= 200 (a refresh must feel instant).

Usage: .venv/bin/python bench/trace_render.py [--quick]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import statistics
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from playwright.sync_api import sync_playwright
from tracing_overhead import synthetic_trace

from agentcore_nb.observability.traceview import trace_state

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
VIEWS = ROOT / "agentcore_nb" / "notebook" / "views"
BARS = {"render_vs_full_table": 0.5, "toggle_ms": 200.0}

PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>{css}</style></head><body>
<div id="widget" style="width: 1400px"></div><div id="table" style="width: 1400px"></div>
<script type="module">
import widget from "./trace_front.js";
const state = await (await fetch("./state.json")).json();
function model() {{
  const data = {{ ...state, selected: "", detail: {{}}, message: "" }};
  return {{ get: (k) => data[k], set: (k, v) => {{ data[k] = v; }}, save_changes() {{}}, on() {{}} }};
}}
window.renderWidget = () => {{
  const el = document.getElementById("widget");
  el.replaceChildren();
  const t = performance.now();
  widget.render({{ model: model(), el }});
  return performance.now() - t;
}};
window.renderTable = () => {{
  const el = document.getElementById("table");
  el.replaceChildren();
  const t = performance.now();
  const tmax = state.t_max || 1;
  for (const r of state.rows) {{
    const row = document.createElement("div");
    row.className = "act-row-plain";
    row.style.display = "flex";
    const name = document.createElement("span");
    name.style.paddingLeft = 4 + r.depth * 14 + "px";
    name.textContent = r.name + " " + r.duration.toFixed(1) + " ms";
    const lane = document.createElement("div");
    lane.style.position = "relative";
    lane.style.flex = "1";
    const bar = document.createElement("div");
    bar.style.position = "absolute";
    bar.style.left = (100 * r.start) / tmax + "%";
    bar.style.width = Math.max(0.3, (100 * r.duration) / tmax) + "%";
    bar.style.height = "12px";
    bar.style.background = "#43a047";
    lane.appendChild(bar);
    row.appendChild(name);
    row.appendChild(lane);
    el.appendChild(row);
  }}
  document.body.offsetHeight;  // include layout, as the widget's draw does
  const d = performance.now() - t;
  el.replaceChildren();
  return d;
}};
window.ready = true;
</script></body></html>"""

TOGGLE = """() => {
  const t = document.querySelector('#widget .act-row .act-toggle');
  const s = performance.now(); t.click(); const a = performance.now() - s;
  const s2 = performance.now(); t.click(); return [a, performance.now() - s2];
}"""
SEARCH = """(q) => {
  const box = document.querySelector('#widget .act-search');
  box.value = q;
  const s = performance.now(); box.dispatchEvent(new Event('input')); const d = performance.now() - s;
  const rows = document.querySelectorAll('#widget .act-row').length;
  box.value = ''; box.dispatchEvent(new Event('input'));
  return [d, rows];
}"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats (well under a minute)")
    args = ap.parse_args()
    repeats = 5 if args.quick else 15
    state = trace_state(synthetic_trace(10_000))
    with tempfile.TemporaryDirectory(prefix="bench-trace-render-") as tmp:
        site = Path(tmp)
        (site / "trace_front.js").write_text((VIEWS / "trace_front.js").read_text())
        (site / "state.json").write_text(json.dumps({k: state[k] for k in ("rows", "header", "t_max")}))
        (site / "index.html").write_text(PAGE.format(css=(VIEWS / "trace.css").read_text()))
        handler = functools.partial(_Quiet, directory=str(site))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # modules need http://
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            page.wait_for_function("window.ready === true", timeout=60_000)
            ours, full, collapse, expand, search = [], [], [], [], []
            for i in range(repeats):
                if i % 2:
                    full.append(page.evaluate("window.renderTable()"))
                    ours.append(page.evaluate("window.renderWidget()"))
                else:
                    ours.append(page.evaluate("window.renderWidget()"))
                    full.append(page.evaluate("window.renderTable()"))
                c, e = page.evaluate(TOGGLE)
                collapse.append(c)
                expand.append(e)
                s, found = page.evaluate(SEARCH, "a4")
                search.append(s)
            rows = page.locator("#widget .act-row").count()
            browser.close()
        server.shutdown()
        server.server_close()
    if errors:
        raise SystemExit("page errors: " + "; ".join(errors))
    figures = {
        "benchmark": "trace_render",
        "peer": "the same 10,000 rows drawn as a plain DOM table (no virtualisation)",
        "spans": len(state["rows"]),
        "render_ms": round(statistics.median(ours), 1),
        "full_table_ms": round(statistics.median(full), 1),
        "render_vs_full_table": round(statistics.median(ours) / statistics.median(full), 4),
        "toggle_ms": round(statistics.median(collapse + expand), 1),
        "search_ms": round(statistics.median(search), 1),
        "search_rows": found,
        "dom_rows": rows,
        "repeats": repeats,
        "quick": args.quick,
        "bars": BARS,
    }
    figures["pass"] = all(figures[k] <= bar for k, bar in BARS.items())
    print(f"render {figures['render_ms']} ms vs full table {figures['full_table_ms']} ms; "
          f"toggle {figures['toggle_ms']} ms; search {figures['search_ms']} ms; {rows} rows in the DOM")  # fmt: skip
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
