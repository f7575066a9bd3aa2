/**
 * The graph drawn as SVG: dagre lays it out (top to bottom, like the notebook), the view pans by
 * dragging and zooms with the wheel or the +/-/fit buttons. The layout is redone only when nodes
 * or edges change; a state change only changes classes, so the picture does not jump as cells run.
 */
import * as dagre from '@dagrejs/dagre';

import { Edge, IGraphNode, policyText } from './protocol';

const SVG = 'http://www.w3.org/2000/svg';
const NODE_W = 148;
const NODE_H = 40;

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    e.setAttribute(k, String(v));
  }
  return e;
}

function shorten(text: string, max: number): string {
  return text.length > max ? text.slice(0, max - 1) + '…' : text;
}

export class GraphView {
  readonly node: HTMLDivElement;
  /** Called with the node's name when it is clicked. */
  onSelect: (name: string) => void = () => undefined;

  constructor() {
    this.node = document.createElement('div');
    this.node.className = 'acx-graph-view';
    this._svg = el('svg', { class: 'acx-graph-svg' });
    this._root = el('g', { class: 'acx-graph-root' });
    const defs = el('defs');
    const marker = el('marker', { id: 'acx-arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
    marker.appendChild(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'acx-arrowhead' }));
    defs.appendChild(marker);
    this._svg.append(defs, this._root);
    const tools = document.createElement('div');
    tools.className = 'acx-zoom-tools';
    for (const [label, title, action] of [
      ['+', 'Zoom in', () => this.zoomBy(1.25)],
      ['−', 'Zoom out', () => this.zoomBy(0.8)],
      ['fit', 'Fit the graph in the panel', () => this.fit()]
    ] as [string, string, () => void][]) {
      const b = document.createElement('button');
      b.className = 'acx-zoom-button jp-Button';
      b.textContent = label;
      b.title = title;
      b.addEventListener('click', action);
      tools.appendChild(b);
    }
    this.node.append(this._svg, tools);
    this._svg.addEventListener('wheel', this._onWheel, { passive: false });
    this._svg.addEventListener('pointerdown', this._onPointerDown);
  }

  /** Draw the graph; `relayout` when its structure changed since the last call. */
  render(nodes: IGraphNode[], edges: Edge[], relayout: boolean, missing: Set<string>): void {
    if (relayout || !this._positions.size) {
      this._layout(nodes, edges);
    }
    this._draw(nodes, edges, missing);
    if (relayout && !this._userMoved) {
      this.fit();
    }
  }

  /** Mark the node of the active cell. */
  highlight(name: string | null): void {
    this._highlighted = name;
    for (const g of Array.from(this._root.querySelectorAll<SVGGElement>('.acx-node'))) {
      g.classList.toggle('acx-active', g.dataset.node === name);
    }
  }

  zoomBy(factor: number, cx?: number, cy?: number): void {
    const rect = this._svg.getBoundingClientRect();
    const x = cx ?? rect.width / 2;
    const y = cy ?? rect.height / 2;
    const k = Math.min(3, Math.max(0.15, this._k * factor));
    this._x = x - ((x - this._x) * k) / this._k;
    this._y = y - ((y - this._y) * k) / this._k;
    this._k = k;
    this._userMoved = true;
    this._apply();
  }

  /** Fit the graph, but never below a scale where names stay readable: pan for the rest. */
  fit(): void {
    const rect = this._svg.getBoundingClientRect();
    if (!rect.width || !rect.height || !(this._size.w > 0) || !(this._size.h > 0)) {
      return;
    }
    // fit the width (a tall graph scrolls with the wheel); the height too when it is small
    const k = Math.max(0.6, Math.min(1.2, (rect.width - 20) / this._size.w, Math.max((rect.height - 20) / this._size.h, 0.9)));
    this._k = k;
    if (this._size.w * k <= rect.width - 20) {
      this._x = (rect.width - this._size.w * k) / 2;
    } else {
      // wider than the panel (long edges take lanes beside the column): centre on the nodes
      const xs = Array.from(this._positions.values())
        .map(p => p.x)
        .sort((a, b) => a - b);
      const mid = xs.length ? xs[Math.floor(xs.length / 2)] : this._size.w / 2;
      this._x = rect.width / 2 - mid * k;
    }
    this._y = 34; // below the zoom buttons
    this._userMoved = false;
    this._apply();
  }

  private _layout(nodes: IGraphNode[], edges: Edge[]): void {
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: 'TB', nodesep: 24, edgesep: 6, ranksep: 36, marginx: 8, marginy: 8 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const n of nodes) {
      g.setNode(n.name, { width: NODE_W, height: NODE_H });
    }
    const real = new Set<string>();
    for (const [a, b] of edges) {
      if (g.hasNode(a) && g.hasNode(b) && a !== b) {
        g.setEdge(a, b, { weight: 2 });
        real.add(`${a}\u0000${b}`);
      }
    }
    // Nodes come in notebook order: an invisible edge from each to the next keeps the picture a
    // column that reads like the notebook (a narrow sidebar cannot show 50 roots side by side);
    // dependencies are the drawn edges.
    for (let i = 1; i < nodes.length; i++) {
      const a = nodes[i - 1].name;
      const b = nodes[i].name;
      if (!real.has(`${a}\u0000${b}`) && !g.hasEdge(b, a)) {
        g.setEdge(a, b, { weight: 1, minlen: 1 });
      }
    }
    dagre.layout(g);
    this._positions.clear();
    for (const name of g.nodes()) {
      const p = g.node(name);
      this._positions.set(name, { x: p.x, y: p.y });
    }
    this._edgePoints.clear();
    for (const e of g.edges()) {
      if (!real.has(`${e.v}\u0000${e.w}`)) {
        continue;
      }
      this._edgePoints.set(`${e.v}\u0000${e.w}`, g.edge(e).points ?? []);
    }
    const label = g.graph();
    const w = label.width ?? 0;
    const h = label.height ?? 0;
    this._size = { w: isFinite(w) ? w : 0, h: isFinite(h) ? h : 0 };
  }

  private _draw(nodes: IGraphNode[], edges: Edge[], missing: Set<string>): void {
    this._root.textContent = '';
    const edgeLayer = el('g', { class: 'acx-edges' });
    const nodeLayer = el('g', { class: 'acx-nodes' });
    for (const [a, b] of edges) {
      const points = this._edgePoints.get(`${a}\u0000${b}`);
      if (!points || !points.length) {
        continue;
      }
      const d = points.map((p, i) => `${i ? 'L' : 'M'} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(' ');
      const path = el('path', { d, class: 'acx-edge', 'marker-end': 'url(#acx-arrow)' });
      path.dataset.source = a;
      path.dataset.target = b;
      const title = el('title');
      title.textContent = `${a} → ${b}`;
      path.appendChild(title);
      edgeLayer.appendChild(path);
    }
    for (const n of nodes) {
      const p = this._positions.get(n.name);
      if (!p) {
        continue;
      }
      const g = el('g', { class: `acx-node acx-state-${n.state} acx-kind-${n.kind}`, transform: `translate(${p.x - NODE_W / 2},${p.y - NODE_H / 2})` });
      g.dataset.node = n.name;
      g.dataset.state = n.state;
      g.dataset.kind = n.kind;
      if (missing.has(n.name)) {
        g.classList.add('acx-missing');
      }
      if (n.name === this._highlighted) {
        g.classList.add('acx-active');
      }
      g.appendChild(el('rect', { width: NODE_W, height: NODE_H, rx: 6, class: 'acx-node-box' }));
      g.appendChild(el('rect', { width: 6, height: NODE_H, rx: 3, class: 'acx-node-kindbar' }));
      const name = el('text', { x: 12, y: 16, class: 'acx-node-name' });
      name.textContent = shorten(n.name, 20);
      const sub = el('text', { x: 12, y: 31, class: 'acx-node-sub' });
      sub.textContent = `${n.kind} · ${n.state}${missing.has(n.name) ? ' · cell gone' : ''}`;
      const title = el('title');
      const policy = policyText(n.policy);
      title.textContent = [
        `${n.name} (${n.kind}, ${n.state})`,
        n.reads.length ? `reads: ${n.reads.join(', ')}` : '',
        n.defines.length ? `defines: ${n.defines.join(', ')}` : '',
        policy ? `policy: ${policy}` : '',
        n.error ? `error: ${n.error}` : '',
        ...n.warnings
      ]
        .filter(Boolean)
        .join('\n');
      g.append(title, name, sub);
      g.addEventListener('click', ev => {
        ev.stopPropagation();
        this.onSelect(n.name);
      });
      nodeLayer.appendChild(g);
    }
    this._root.append(edgeLayer, nodeLayer);
    this._apply();
  }

  private _apply(): void {
    if (![this._x, this._y, this._k].every(isFinite)) {
      this._x = 10;
      this._y = 10;
      this._k = 1;
    }
    this._root.setAttribute('transform', `translate(${this._x.toFixed(1)},${this._y.toFixed(1)}) scale(${this._k.toFixed(3)})`);
  }

  /** The wheel scrolls (shift: sideways); with Ctrl or Cmd (and pinch) it zooms at the pointer. */
  private _onWheel = (ev: WheelEvent): void => {
    ev.preventDefault();
    if (ev.ctrlKey || ev.metaKey) {
      const rect = this._svg.getBoundingClientRect();
      this.zoomBy(ev.deltaY < 0 ? 1.1 : 1 / 1.1, ev.clientX - rect.left, ev.clientY - rect.top);
      return;
    }
    const dx = ev.shiftKey ? ev.deltaY : ev.deltaX;
    const dy = ev.shiftKey ? 0 : ev.deltaY;
    this._x -= dx;
    this._y -= dy;
    this._userMoved = true;
    this._apply();
  };

  private _onPointerDown = (ev: PointerEvent): void => {
    if (ev.button !== 0 || (ev.target as Element).closest('.acx-node')) {
      return;
    }
    const start = { x: ev.clientX, y: ev.clientY, ox: this._x, oy: this._y };
    const move = (e: PointerEvent) => {
      this._x = start.ox + e.clientX - start.x;
      this._y = start.oy + e.clientY - start.y;
      this._userMoved = true;
      this._apply();
    };
    const up = () => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
      this._svg.classList.remove('acx-panning');
    };
    this._svg.classList.add('acx-panning');
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  };

  private _svg: SVGSVGElement;
  private _root: SVGGElement;
  private _positions = new Map<string, { x: number; y: number }>();
  private _edgePoints = new Map<string, { x: number; y: number }[]>();
  private _size = { w: 0, h: 0 };
  private _x = 10;
  private _y = 10;
  private _k = 1;
  private _userMoved = false;
  private _highlighted: string | null = null;
}
