// The %graph widget's front end (anywidget ESM): an SVG of the laid-out DAG (positions come from
// the kernel's layered layout), arrows, colour by state, badge and shape by kind, a detail pane.
const SVG = "http://www.w3.org/2000/svg";
const BADGE = { python: "Py", tool: "T", reason: "R", memory: "M", code: "C", agent: "A" };

function s(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}
function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

function render({ model, el }) {
  const root = h("div", "acg-root");
  const head = h("div", "acg-header");
  const body = h("div", "acg-body");
  const canvas = h("div", "acg-canvas");
  const detail = h("div", "acg-detail", "Click a node to see its cell, policy and last run.");
  body.appendChild(canvas);
  body.appendChild(detail);
  root.appendChild(head);
  root.appendChild(body);
  el.appendChild(root);
  let selected = "";

  function showDetail(n) {
    detail.replaceChildren();
    if (!n) {
      detail.textContent = "Click a node to see its cell, policy and last run.";
      return;
    }
    detail.appendChild(h("div", "acg-detail-title", n.name + "  (" + n.kind + ", " + n.state + ")"));
    detail.appendChild(h("pre", "acg-code", n.first_lines || "(no source)"));
    const pol = Object.entries(n.policy || {}).map(([k, v]) => k + "=" + JSON.stringify(v)).join(", ");
    detail.appendChild(h("div", "acg-line", "policy: " + (pol || "defaults")));
    const lr = n.last_run || {};
    let run = lr.execution_count != null ? "cell [" + lr.execution_count + "], " + lr.state : "not run yet";
    if (lr.run_id) run += " \u00b7 run " + lr.run_id.slice(0, 8);
    detail.appendChild(h("div", "acg-line", "last run: " + run));
    if (lr.error) detail.appendChild(h("div", "acg-line acg-bad", lr.error));
    for (const w of n.warnings || []) detail.appendChild(h("div", "acg-line acg-warn", "\u26a0 " + w));
  }

  function draw() {
    const g = model.get("graph") || {};
    const nodes = g.nodes || [];
    const edges = g.edges || [];
    const counts = {};
    for (const n of nodes) counts[n.state] = (counts[n.state] || 0) + 1;
    head.replaceChildren();
    head.appendChild(h("b", null, g.name || "graph"));
    head.appendChild(document.createTextNode(
      ": " + nodes.length + " nodes, " + edges.length + " edges " +
      Object.entries(counts).map(([k, v]) => v + " " + k).join(", ")));
    const W = g.node_w || 150, H = g.node_h || 38;
    // fit the width of the view (never below half size: bigger graphs scroll instead)
    const gw = g.width || 100, gh = g.height || 60;
    const avail = (canvas.clientWidth || 800) - 8;
    const scale = Math.max(0.5, Math.min(1, avail / gw));
    const svg = s("svg", { class: "acg-svg", width: gw * scale, height: gh * scale,
      viewBox: "0 0 " + gw + " " + gh });
    const defs = s("defs");
    const marker = s("marker", { id: "acg-arrow-" + model.cid, viewBox: "0 0 10 10", refX: "9", refY: "5",
      markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
    marker.appendChild(s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "acg-arrowhead" }));
    defs.appendChild(marker);
    svg.appendChild(defs);
    for (const e of edges) {
      const pts = e.points.map((p) => p[0] + "," + p[1]).join(" ");
      const line = s("polyline", { points: pts, class: "acg-edge", "marker-end": "url(#acg-arrow-" + model.cid + ")" });
      line.dataset.source = e.source;
      line.dataset.target = e.target;
      svg.appendChild(line);
    }
    for (const n of nodes) {
      const grp = s("g", { class: "acg-node acg-" + n.state + " acg-k-" + n.kind + (n.name === selected ? " acg-selected" : ""),
        transform: "translate(" + (n.x - W / 2) + "," + (n.y - H / 2) + ")" });
      grp.dataset.node = n.name;
      const rx = n.kind === "tool" ? H / 2 : n.kind === "agent" ? 12 : 4;
      grp.appendChild(s("rect", { width: W, height: H, rx: rx, class: "acg-box" }));
      grp.appendChild(s("rect", { x: 4, y: 4, width: 22, height: H - 8, rx: 3, class: "acg-badge" }));
      grp.appendChild(s("text", { x: 15, y: H / 2 + 4, class: "acg-badge-text" }, BADGE[n.kind] || n.kind[0].toUpperCase()));
      const label = n.name.length > 17 ? n.name.slice(0, 16) + "\u2026" : n.name;
      grp.appendChild(s("text", { x: 32, y: H / 2 - 2, class: "acg-label" }, label));
      grp.appendChild(s("text", { x: 32, y: H / 2 + 11, class: "acg-sub" }, n.kind + " \u00b7 " + n.state));
      grp.appendChild(s("title", {}, n.name));
      grp.addEventListener("click", () => {
        selected = n.name;
        showDetail(n);
        draw();
      });
      svg.appendChild(grp);
    }
    canvas.replaceChildren(svg);
    if (selected) showDetail(nodes.find((n) => n.name === selected));
  }

  model.on("change:graph", draw);
  draw();
  return () => {};
}

export default { render };
