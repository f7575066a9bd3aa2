// The trace widget's front end (anywidget ESM): a collapsible span tree beside a waterfall on one
// time axis, virtualised so that 10,000 spans scroll smoothly, with filters, search and a detail pane.
const ROW = 22;
const AXIS = 20; // the time axis above the rows (sticky while the rows scroll)
const GROUPS = ["agent", "reasoning", "tool", "memory", "code", "cell"];

function fmtMs(ms) {
  if (ms == null) return "";
  if (ms >= 1000) return (ms / 1000).toFixed(2) + " s";
  if (ms >= 10) return ms.toFixed(0) + " ms";
  return ms.toFixed(1) + " ms";
}
// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `target` ticks over `span` ms.
function niceStep(span, target) {
  const raw = span / Math.max(1, target);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5]) if (m * p >= raw) return m * p;
  return 10 * p;
}
// Tick values and labels for an axis of `tmax` ms: milliseconds below a second, seconds above.
function ticks(tmax, target) {
  if (!(tmax > 0)) return [];
  const step = niceStep(tmax, target);
  const secs = tmax >= 1000;
  const unit = secs ? step / 1000 : step;
  const digits = unit >= 1 ? 0 : Math.min(6, Math.ceil(-Math.log10(unit) - 1e-9));
  const out = [];
  for (let i = 0; i * step <= tmax * (1 + 1e-9); i++) {
    const v = i * step;
    out.push({ ms: v, label: (secs ? v / 1000 : v).toFixed(digits) + (secs ? " s" : " ms") });
  }
  return out;
}
function fmtCost(c) {
  return c ? "$" + (c >= 0.01 ? c.toFixed(2) : c.toFixed(4)) : "";
}
function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

function render({ model, el }) {
  const collapsed = new Set();
  const hidden = new Set();
  let query = "";
  let visible = [];
  let hasKids = new Set();

  const root = h("div", "act-root");
  const header = h("div", "act-header");
  const bar = h("div", "act-toolbar");
  const search = h("input", "act-search");
  search.type = "search";
  search.placeholder = "search spans by name";
  bar.appendChild(search);
  const filters = h("span", "act-filters");
  for (const g of GROUPS) {
    const lab = h("label", "act-filter act-g-" + g);
    const box = h("input");
    box.type = "checkbox";
    box.checked = true;
    box.dataset.group = g;
    box.addEventListener("change", () => {
      box.checked ? hidden.delete(g) : hidden.add(g);
      refresh();
    });
    lab.appendChild(box);
    lab.appendChild(document.createTextNode(g));
    filters.appendChild(lab);
  }
  bar.appendChild(filters);
  const main = h("div", "act-main");
  const scroller = h("div", "act-scroller");
  const axis = h("div", "act-axis");
  axis.style.height = AXIS + "px";
  axis.appendChild(h("div", "act-axis-pad", "time"));
  const axisLane = h("div", "act-axis-lane");
  axis.appendChild(axisLane);
  const spacer = h("div", "act-spacer");
  const layer = h("div", "act-layer");
  layer.style.top = AXIS + "px";
  scroller.appendChild(axis);
  scroller.appendChild(spacer);
  scroller.appendChild(layer);
  const detail = h("div", "act-detail");
  detail.textContent = "Click a span to see its attributes.";
  main.appendChild(scroller);
  main.appendChild(detail);
  root.appendChild(header);
  root.appendChild(bar);
  root.appendChild(main);
  el.appendChild(root);

  function drawHeader() {
    const hd = model.get("header") || {};
    header.replaceChildren();
    if (!hd.spans) {
      header.appendChild(h("span", "act-empty", model.get("message") || "no spans"));
      return;
    }
    const items = [
      ["wall", fmtMs(hd.wall_ms)],
      ["critical path", fmtMs(hd.critical_path_ms) + " (" + (hd.critical_path || []).join(" \u2192 ") + ")"],
      ["spans", String(hd.spans)],
      ["nodes", Object.entries(hd.nodes_by_kind || {}).map(([k, v]) => k + " " + v).join(", ") || "-"],
      ["retries", String(hd.retries)],
      ["failures", String(hd.failures)],
      ["tokens", hd.tokens_in + " in / " + hd.tokens_out + " out"],
      ["cost", fmtCost(hd.cost) || "$0"],
    ];
    if (hd.running) items.push(["running", String(hd.running)]);
    header.appendChild(h("span", "act-title", hd.name || "trace"));
    for (const [k, v] of items) {
      const it = h("span", "act-stat" + (k === "failures" && hd.failures ? " act-bad" : ""));
      it.appendChild(h("b", null, k + " "));
      it.appendChild(document.createTextNode(v));
      header.appendChild(it);
    }
  }

  function computeVisible() {
    const rows = model.get("rows") || [];
    const out = [];
    const q = query.toLowerCase();
    let skipDepth = -1;
    for (const r of rows) {
      if (skipDepth >= 0) {
        if (r.depth > skipDepth) continue;
        skipDepth = -1;
      }
      const match = (!q || r.name.toLowerCase().includes(q)) && !hidden.has(r.group);
      if (match) out.push(r);
      if (collapsed.has(r.id)) skipDepth = r.depth;
    }
    return out;
  }

  function drawAxis() {
    const tmax = model.get("t_max") || 0;
    const width = axisLane.clientWidth || 400;
    axisLane.replaceChildren();
    for (const t of ticks(tmax, Math.max(2, Math.floor(width / 90)))) {
      const frac = t.ms / tmax;
      const tick = h("span", "act-tick" + (frac > 0.92 ? " act-tick-end" : frac === 0 ? " act-tick-start" : ""), t.label);
      tick.style.left = 100 * frac + "%";
      tick.dataset.ms = String(t.ms);
      axisLane.appendChild(tick);
    }
  }

  function drawRows() {
    const tmax = model.get("t_max") || 1;
    const top = Math.max(0, scroller.scrollTop - AXIS);
    const height = scroller.clientHeight || 400;
    const first = Math.max(0, Math.floor(top / ROW) - 5);
    const last = Math.min(visible.length, Math.ceil((top + height) / ROW) + 5);
    layer.replaceChildren();
    const selected = model.get("selected");
    for (let i = first; i < last; i++) {
      const r = visible[i];
      const row = h("div", "act-row act-g-" + r.group + (r.status === "error" ? " act-error" : "") +
        (r.status === "running" ? " act-running" : "") + (r.id === selected ? " act-selected" : ""));
      row.style.top = i * ROW + "px";
      row.dataset.span = r.id;
      const tree = h("div", "act-tree");
      tree.style.paddingLeft = 4 + r.depth * 14 + "px";
      const tog = h("span", "act-toggle", hasKids.has(r.id) ? (collapsed.has(r.id) ? "\u25b8" : "\u25be") : "");
      tog.addEventListener("click", (ev) => {
        ev.stopPropagation();
        collapsed.has(r.id) ? collapsed.delete(r.id) : collapsed.add(r.id);
        refresh();
      });
      tree.appendChild(tog);
      tree.appendChild(h("span", "act-name", r.name));
      const meta = [fmtMs(r.duration)];
      if (r.sum_in || r.sum_out) meta.push((r.sum_in + r.sum_out) + " tok");
      if (r.sum_cost) meta.push(fmtCost(r.sum_cost));
      if (r.attempt > 1) meta.push("attempt " + r.attempt);
      tree.appendChild(h("span", "act-meta", meta.join(" \u00b7 ")));
      if (r.error) tree.appendChild(h("span", "act-reason", r.error));
      row.title = r.name + (r.error ? "\n" + r.error : "");
      const lane = h("div", "act-lane");
      const b = h("div", "act-bar");
      b.style.left = (100 * r.start) / tmax + "%";
      b.style.width = Math.max(0.3, (100 * r.duration) / tmax) + "%";
      lane.appendChild(b);
      row.appendChild(tree);
      row.appendChild(lane);
      row.addEventListener("click", () => {
        model.set("selected", r.id);
        model.save_changes();
        drawRows();
      });
      layer.appendChild(row);
    }
  }

  function drawDetail() {
    const d = model.get("detail") || {};
    detail.replaceChildren();
    if (!d.id) {
      detail.textContent = "Click a span to see its attributes.";
      return;
    }
    detail.appendChild(h("div", "act-detail-title", d.name));
    const st = h("div", "act-detail-status" + (d.status === "error" ? " act-bad" : ""),
      d.status + (d.duration_ms != null ? " \u00b7 " + fmtMs(d.duration_ms) : "") + (d.error ? " \u00b7 " + d.error : ""));
    detail.appendChild(st);
    const table = h("table", "act-attrs");
    for (const [k, v] of Object.entries(d.attributes || {})) {
      const tr = h("tr");
      tr.appendChild(h("td", "act-key", k));
      const val = typeof v === "string" ? v : JSON.stringify(v);
      tr.appendChild(h("td", k.startsWith("gen_ai.input") || k.startsWith("gen_ai.output") || k.startsWith("gen_ai.tool.call.a") || k.startsWith("gen_ai.tool.call.r") ? "act-val act-content" : "act-val", val));
      table.appendChild(tr);
    }
    detail.appendChild(table);
    for (const e of d.events || []) {
      detail.appendChild(h("div", "act-event", "event " + e.name + " " + JSON.stringify(e.attributes || {})));
    }
  }

  function refresh() {
    performance.mark("act-refresh-start");
    const rows = model.get("rows") || [];
    hasKids = new Set(rows.filter((r) => r.parent >= 0).map((r) => rows[r.parent].id));
    visible = computeVisible();
    spacer.style.height = visible.length * ROW + "px";
    main.style.height = Math.min(360, Math.max(140, visible.length * ROW + AXIS + 6)) + "px";  // no empty band
    drawAxis();
    drawRows();
    // User Timing entries: how long a (re)draw takes, readable in the page (the browser tests use it)
    performance.measure("act-refresh", "act-refresh-start");
  }

  search.addEventListener("input", () => {
    query = search.value;
    refresh();
  });
  scroller.addEventListener("scroll", () => requestAnimationFrame(drawRows));
  model.on("change:rows", refresh);
  model.on("change:t_max", refresh);
  const resized = new ResizeObserver(() => drawAxis());
  resized.observe(axisLane);
  model.on("change:header", drawHeader);
  model.on("change:message", drawHeader);
  model.on("change:detail", drawDetail);
  performance.mark("act-render-start");
  drawHeader();
  refresh();
  drawDetail();
  performance.measure("act-render", "act-render-start");
  return () => resized.disconnect();
}

export default { render };
