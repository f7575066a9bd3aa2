/**
 * The `agentcore.graph` comm protocol (docs/kernel-protocol.md): message shapes and a tolerant
 * parser. The kernel is another process: everything it sends is checked before use, so a
 * malformed message becomes one line in the panel, never an exception.
 */

export type NodeState = 'fresh' | 'stale' | 'running' | 'failed';

export interface IGraphNode {
  name: string;
  kind: string;
  state: NodeState | string;
  cell_id: string | null;
  reads: string[];
  defines: string[];
  upstream: string[];
  policy: Record<string, unknown>;
  execution_count: number | null;
  warnings: string[];
  error: string;
}

export type Edge = [string, string];

export interface IRun {
  run_id: string;
  kind: string;
  name: string;
  status: string;
  started_at: number | null;
  ended_at: number | null;
  parent_run_id: string | null;
  span_count: number;
}

export interface ISpan {
  span_id: string;
  parent_span_id: string | null;
  name: string;
  start_ms: number;
  duration_ms: number | null;
  status: string;
  kind: string;
  attributes: Record<string, unknown>;
}

export interface ITrace {
  run_id: string;
  status: string;
  spans: ISpan[];
}

export interface IMessage {
  v: number;
  seq: number | null;
  type: string;
  reply_to?: string;
  [key: string]: unknown;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function strings(x: unknown): string[] {
  return Array.isArray(x) ? x.filter(s => typeof s === 'string') : [];
}

/** A message envelope, or a one-line reason why it is not one. */
export function parseMessage(data: unknown): IMessage | string {
  if (!isObject(data)) {
    return 'a comm message that is not a JSON object';
  }
  if (data.v !== 1) {
    return `a comm message of protocol version ${JSON.stringify(data.v)} (expected 1)`;
  }
  if (typeof data.type !== 'string') {
    return 'a comm message without a type';
  }
  const seq = typeof data.seq === 'number' && Number.isInteger(data.seq) ? data.seq : null;
  return { ...data, v: 1, seq, type: data.type } as IMessage;
}

/** A node, or null when the object lacks a name. */
export function parseNode(x: unknown): IGraphNode | null {
  if (!isObject(x) || typeof x.name !== 'string' || !x.name) {
    return null;
  }
  return {
    name: x.name,
    kind: typeof x.kind === 'string' ? x.kind : 'python',
    state: typeof x.state === 'string' ? x.state : 'fresh',
    cell_id: typeof x.cell_id === 'string' ? x.cell_id : null,
    reads: strings(x.reads),
    defines: strings(x.defines),
    upstream: strings(x.upstream),
    policy: isObject(x.policy) ? x.policy : {},
    execution_count: typeof x.execution_count === 'number' ? x.execution_count : null,
    warnings: strings(x.warnings),
    error: typeof x.error === 'string' ? x.error : ''
  };
}

export function parseEdges(x: unknown): Edge[] {
  if (!Array.isArray(x)) {
    return [];
  }
  return x
    .filter(e => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && typeof e[1] === 'string')
    .map(e => [e[0], e[1]] as Edge);
}

function num(x: unknown): number | null {
  return typeof x === 'number' && isFinite(x) ? x : null;
}

export function parseRuns(x: unknown): IRun[] {
  if (!Array.isArray(x)) {
    return [];
  }
  const runs: IRun[] = [];
  for (const r of x) {
    if (!isObject(r) || typeof r.run_id !== 'string') {
      continue;
    }
    runs.push({
      run_id: r.run_id,
      kind: typeof r.kind === 'string' ? r.kind : '',
      name: typeof r.name === 'string' ? r.name : '',
      status: typeof r.status === 'string' ? r.status : 'unknown',
      started_at: num(r.started_at),
      ended_at: num(r.ended_at),
      parent_run_id: typeof r.parent_run_id === 'string' ? r.parent_run_id : null,
      span_count: num(r.span_count) ?? 0
    });
  }
  return runs;
}

export function parseTrace(x: IMessage): ITrace {
  const spans: ISpan[] = [];
  for (const s of Array.isArray(x.spans) ? x.spans : []) {
    if (!isObject(s) || typeof s.span_id !== 'string' || typeof s.name !== 'string') {
      continue;
    }
    spans.push({
      span_id: s.span_id,
      parent_span_id: typeof s.parent_span_id === 'string' ? s.parent_span_id : null,
      name: s.name,
      start_ms: num(s.start_ms) ?? 0,
      duration_ms: num(s.duration_ms),
      status: typeof s.status === 'string' ? s.status : 'unset',
      kind: typeof s.kind === 'string' ? s.kind : '',
      attributes: isObject(s.attributes) ? s.attributes : {}
    });
  }
  return {
    run_id: typeof x.run_id === 'string' ? x.run_id : '',
    status: typeof x.status === 'string' ? x.status : 'unknown',
    spans
  };
}

/** One line for a policy: "retries 2 · timeout 10 s · fallback cached". */
export function policyText(policy: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(policy)) {
    if (value === null || value === undefined || value === '') {
      continue;
    }
    parts.push(key === 'timeout' ? `timeout ${value} s` : `${key.replace(/_/g, ' ')} ${value}`);
  }
  return parts.join(' · ');
}

/** One reason an export was refused (an `export_refused` answer's `problems[]`). */
export interface IProblem {
  /** A stable code: syntax, cell, unbound, order, cycle, output, ... ('' from an old kernel). */
  kind: string;
  cell_id: string | null;
  /** 1-based position among the notebook's cells; null when the problem is about several. */
  index: number | null;
  node: string | null;
  message: string;
}

/** The problems of an `export_refused` answer (entries without a message are dropped). */
export function parseProblems(x: unknown): IProblem[] {
  return (Array.isArray(x) ? x : []).filter(isObject).flatMap(p =>
    typeof p.message === 'string'
      ? [
          {
            kind: typeof p.kind === 'string' ? p.kind : '',
            cell_id: typeof p.cell_id === 'string' ? p.cell_id : null,
            index: typeof p.index === 'number' && Number.isInteger(p.index) && p.index > 0 ? p.index : null,
            node: typeof p.node === 'string' ? p.node : null,
            message: p.message
          }
        ]
      : []
  );
}
