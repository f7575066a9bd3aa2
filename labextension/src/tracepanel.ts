/**
 * The trace sidebar: the runs of the current notebook's kernel session, newest first; selecting
 * one draws its spans as a tree with a waterfall on one time axis (what the %trace widget shows),
 * polled about every 500 ms while the run is in progress. The kernel may answer only between
 * cells: a request waits for its answer before the next one is sent.
 */
import { Widget } from '@lumino/widgets';

import { GraphClient } from './client';
import { IRun, ISpan, ITrace, parseRuns, parseTrace } from './protocol';

const POLL_MS = 500;
const RUNS_POLL_MS = 2000;

function fmtMs(ms: number | null): string {
  if (ms === null) {
    return 'running';
  }
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
}

function fmtTime(t: number | null): string {
  return t === null ? '' : new Date(t * 1000).toLocaleTimeString();
}

/** Spans in tree order (depth first, siblings by start), each with its depth. */
export function treeOrder(spans: ISpan[]): { span: ISpan; depth: number }[] {
  const ids = new Set(spans.map(s => s.span_id));
  const children = new Map<string | null, ISpan[]>();
  for (const s of spans) {
    const parent = s.parent_span_id && ids.has(s.parent_span_id) ? s.parent_span_id : null;
    if (!children.has(parent)) {
      children.set(parent, []);
    }
    children.get(parent)!.push(s);
  }
  const out: { span: ISpan; depth: number }[] = [];
  const seen = new Set<string>();
  const walk = (parent: string | null, depth: number) => {
    for (const s of (children.get(parent) ?? []).sort((a, b) => a.start_ms - b.start_ms)) {
      if (seen.has(s.span_id)) {
        continue;
      }
      seen.add(s.span_id);
      out.push({ span: s, depth });
      walk(s.span_id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}

export class TracePanel extends Widget {
  constructor() {
    super();
    this.id = 'agentcore-trace-panel';
    this.addClass('acx-panel');
    this.addClass('acx-trace-panel');
    this.title.caption = 'AgentCore traces of the notebook';
    this.title.label = 'Traces';
    this._status = document.createElement('div');
    this._status.className = 'acx-status';
    this._runs = document.createElement('div');
    this._runs.className = 'acx-runs';
    this._trace = document.createElement('div');
    this._trace.className = 'acx-trace';
    const refresh = document.createElement('button');
    refresh.className = 'jp-Button acx-button';
    refresh.textContent = 'Refresh';
    refresh.addEventListener('click', () => this._loadRuns());
    const head = document.createElement('div');
    head.className = 'acx-header';
    head.textContent = 'Runs (newest first)';
    head.appendChild(refresh);
    this.node.append(head, this._status, this._runs, this._trace);
  }

  setClient(client: GraphClient | null): void {
    if (this._client === client) {
      return;
    }
    if (this._client) {
      this._client.changed.disconnect(this._onClientChanged, this);
      this._client.activity.disconnect(this._onActivity, this);
    }
    this._client = client;
    this._selected = null;
    this._runList = [];
    this._traceData = null;
    if (client) {
      client.changed.connect(this._onClientChanged, this);
      client.activity.connect(this._onActivity, this);
    }
    this._drawRuns();
    this._drawTrace();
    this._loadRuns();
  }

  protected onAfterShow(): void {
    this._loadRuns();
  }

  protected onBeforeHide(): void {
    this._stopTimers();
  }

  dispose(): void {
    this._stopTimers();
    super.dispose();
  }

  private _stopTimers(): void {
    window.clearTimeout(this._runsTimer);
    window.clearTimeout(this._traceTimer);
  }

  private _say(text: string): void {
    this._status.textContent = text;
    this._status.style.display = text ? '' : 'none';
  }

  private _onClientChanged(): void {
    const c = this._client;
    if (!c) {
      return;
    }
    if (c.status !== 'live') {
      this._say(c.message);
      this._wasLive = false;
    } else if (!this._wasLive) {
      this._wasLive = true;
      this._say('');
      this._loadRuns();
    }
  }

  private _onActivity(): void {
    window.clearTimeout(this._runsTimer);
    this._runsTimer = window.setTimeout(() => this._loadRuns(), 300);
  }

  private _loadRuns(): void {
    const client = this._client;
    if (!client || !this.isVisible) {
      return;
    }
    if (client.status !== 'live') {
      this._say(client.message || 'Not connected to the kernel.');
      return;
    }
    if (this._runsPending) {
      return;
    }
    this._runsPending = true;
    client
      .request({ type: 'runs', limit: 50 })
      .then(msg => {
        if (client !== this._client) {
          return;
        }
        this._runList = parseRuns(msg.runs);
        this._say(this._runList.length ? '' : 'No runs yet: run a cell.');
        this._drawRuns();
        if (!this._selected || !this._runList.some(r => r.run_id === this._selected)) {
          const pick = this._runList.find(r => r.kind === 'agent') ?? this._runList[0];
          if (pick && !this._selected) {
            this._select(pick.run_id);
          }
        } else {
          const sel = this._runList.find(r => r.run_id === this._selected);
          if (sel && sel.status === 'running' && !this._tracePending) {
            this._loadTrace();
          }
        }
      })
      .catch((err: Error) => {
        if (client === this._client) {
          this._say(`Runs unavailable: ${err.message}`);
        }
      })
      .finally(() => {
        this._runsPending = false;
        if (client === this._client && this._runList.some(r => r.status === 'running')) {
          window.clearTimeout(this._runsTimer);
          this._runsTimer = window.setTimeout(() => this._loadRuns(), RUNS_POLL_MS);
        }
      });
  }

  private _select(runId: string): void {
    this._selected = runId;
    this._traceData = null;
    this._drawRuns();
    this._drawTrace();
    this._loadTrace();
  }

  private _loadTrace(): void {
    const client = this._client;
    const runId = this._selected;
    if (!client || !runId || client.status !== 'live' || this._tracePending) {
      return;
    }
    this._tracePending = true;
    client
      .request({ type: 'trace', run_id: runId })
      .then(msg => {
        if (client !== this._client || runId !== this._selected) {
          return;
        }
        this._traceData = parseTrace(msg);
        this._drawTrace();
      })
      .catch((err: Error) => {
        if (client === this._client && runId === this._selected) {
          this._say(`Trace unavailable: ${err.message}`);
        }
      })
      .finally(() => {
        this._tracePending = false;
        if (client === this._client && runId === this._selected && this._traceData?.status === 'running' && this.isVisible) {
          window.clearTimeout(this._traceTimer);
          this._traceTimer = window.setTimeout(() => this._loadTrace(), POLL_MS);
        }
      });
  }

  private _drawRuns(): void {
    this._runs.textContent = '';
    const byId = new Set(this._runList.map(r => r.run_id));
    for (const run of this._runList) {
      const row = document.createElement('div');
      row.className = `acx-run acx-status-${run.status}`;
      row.dataset.runId = run.run_id;
      row.dataset.kind = run.kind;
      row.dataset.status = run.status;
      if (run.parent_run_id && byId.has(run.parent_run_id)) {
        row.classList.add('acx-run-child');
      }
      if (run.run_id === this._selected) {
        row.classList.add('acx-selected');
      }
      const name = document.createElement('span');
      name.className = 'acx-run-name';
      name.textContent = `${run.kind} ${run.name}`.trim();
      const meta = document.createElement('span');
      meta.className = 'acx-run-meta';
      const took = run.started_at !== null && run.ended_at !== null ? fmtMs((run.ended_at - run.started_at) * 1000) : '';
      meta.textContent = [run.status, `${run.span_count} spans`, took, fmtTime(run.started_at)].filter(Boolean).join(' · ');
      row.append(name, meta);
      row.title = run.run_id;
      row.addEventListener('click', () => this._select(run.run_id));
      this._runs.appendChild(row);
    }
  }

  private _drawTrace(): void {
    this._trace.textContent = '';
    const t: ITrace | null = this._traceData;
    if (!t) {
      return;
    }
    const rows = treeOrder(t.spans);
    const end = Math.max(1, ...t.spans.map(s => s.start_ms + (s.duration_ms ?? 0)));
    const head = document.createElement('div');
    head.className = 'acx-trace-head';
    head.textContent = `${t.spans.length} spans · ${t.status} · ${fmtMs(end)}`;
    this._trace.appendChild(head);
    for (const { span, depth } of rows) {
      const row = document.createElement('div');
      row.className = `acx-span acx-span-${span.status}`;
      row.dataset.spanId = span.span_id;
      const name = document.createElement('div');
      name.className = 'acx-span-name';
      name.style.paddingLeft = `${depth * 12 + 4}px`;
      name.textContent = span.name;
      const lane = document.createElement('div');
      lane.className = 'acx-span-lane';
      const bar = document.createElement('div');
      bar.className = `acx-bar${span.duration_ms === null ? ' acx-bar-open' : ''}`;
      const left = (span.start_ms / end) * 100;
      const width = span.duration_ms === null ? 100 - left : Math.max(0.5, (span.duration_ms / end) * 100);
      bar.style.left = `${left.toFixed(2)}%`;
      bar.style.width = `${Math.min(width, 100 - left).toFixed(2)}%`;
      lane.appendChild(bar);
      const dur = document.createElement('div');
      dur.className = 'acx-span-dur';
      dur.textContent = fmtMs(span.duration_ms);
      row.append(name, lane, dur);
      const attrs = Object.entries(span.attributes)
        .slice(0, 20)
        .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
      row.title = [`${span.name} (${span.kind || 'span'}, ${span.status})`, ...attrs].join('\n');
      this._trace.appendChild(row);
    }
  }

  private _client: GraphClient | null = null;
  private _runList: IRun[] = [];
  private _selected: string | null = null;
  private _traceData: ITrace | null = null;
  private _runsPending = false;
  private _tracePending = false;
  private _wasLive = false;
  private _runsTimer = 0;
  private _traceTimer = 0;
  private _status: HTMLDivElement;
  private _runs: HTMLDivElement;
  private _trace: HTMLDivElement;
}
