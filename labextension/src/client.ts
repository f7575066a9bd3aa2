/**
 * One notebook's connection to its kernel's `agentcore.graph` comm: the graph it holds (snapshot
 * + changes), request/reply for runs, traces and export, and recovery. The comm is re-opened
 * when the kernel changes, restarts or comes back from the dead, and a seq gap or a malformed
 * message asks for a fresh snapshot. `seq` numbers the kernel's change feed (a snapshot carries
 * the last change it holds); answers are matched by `reply_to` and carry none (an older kernel's
 * answers do, on the same counter, and are checked the same way). Every failure is one line in
 * `message`; nothing throws.
 */
import { ISessionContext } from '@jupyterlab/apputils';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { Edge, IGraphNode, IMessage, parseEdges, parseMessage, parseNode } from './protocol';

export const TARGET = 'agentcore.graph';

/** connecting: comm asked for; live: snapshot received; nocomm: the kernel has no such target;
 * nokernel: no kernel; lost: kernel restarting/dead, will reconnect. */
export type Status = 'connecting' | 'live' | 'nocomm' | 'nokernel' | 'lost' | 'closed';

export const NO_COMM_HINT =
  "This notebook's kernel has no AgentCore graph: pick the AgentCore (Python 3) kernel, or run %load_ext agentcore_nb.";

interface IPending {
  resolve: (msg: IMessage) => void;
  reject: (err: Error) => void;
  timer: number;
}

export class GraphClient {
  constructor(readonly sessionContext: ISessionContext) {
    sessionContext.kernelChanged.connect(this._onKernelChanged, this);
    sessionContext.statusChanged.connect(this._onStatus, this);
    void sessionContext.ready.then(() => this._open()).catch(() => undefined);
  }

  readonly nodes = new Map<string, IGraphNode>();
  edges: Edge[] = [];
  session = '';
  status: Status = 'connecting';
  /** One line for the user: what went wrong or what is happening, '' when all is well. */
  message = '';
  /** How many times a bad message (malformed, seq gap, out of order) made us refresh. */
  recoveries = 0;
  /** Bumped when the set of nodes or edges changes (the layout must be redone). */
  structure = 0;

  /** Emitted on every change of graph, status or message. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }
  /** Emitted for every `changes` message (after it is applied): panels refresh their lists. */
  get activity(): ISignal<this, IMessage> {
    return this._activity;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Ask the kernel for something; the answer is the message carrying our id as reply_to. */
  request(data: Record<string, unknown>, timeoutMs = 120_000): Promise<IMessage> {
    const comm = this._comm;
    if (!comm || this.status !== 'live') {
      return Promise.reject(new Error(this._notLiveReason()));
    }
    const id = `r${++this._lastId}`;
    return new Promise<IMessage>((resolve, reject) => {
      const timer = window.setTimeout(() => {
        this._pending.delete(id);
        reject(new Error(`the kernel did not answer '${String(data.type)}' within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this._pending.set(id, { resolve, reject, timer });
      try {
        comm.send({ ...data, id } as any);
      } catch (err) {
        window.clearTimeout(timer);
        this._pending.delete(id);
        reject(new Error(`cannot reach the kernel: ${(err as Error).message}`));
      }
    });
  }

  /** Send `refresh` (a new snapshot follows). */
  refresh(): void {
    if (this._comm && !this._comm.isDisposed) {
      try {
        this._comm.send({ type: 'refresh' });
      } catch {
        this._lost('the comm to the kernel broke; reconnecting');
      }
    } else {
      this._open();
    }
  }

  /** Run code on the kernel like a tool would (store_history false: it is no cell of the graph). */
  async execute(code: string): Promise<string> {
    const kernel = this.sessionContext.session?.kernel;
    if (!kernel) {
      throw new Error('the notebook has no kernel');
    }
    const lines: string[] = [];
    const future = kernel.requestExecute({ code, store_history: false, silent: false });
    future.onIOPub = (msg: KernelMessage.IIOPubMessage) => {
      const content = msg.content as any;
      if (msg.header.msg_type === 'stream' && typeof content.text === 'string') {
        lines.push(content.text);
      } else if (msg.header.msg_type === 'error') {
        lines.push(`${content.ename}: ${content.evalue}`);
      }
    };
    const reply = await future.done;
    const text = lines.join('').trim();
    if ((reply.content as any).status !== 'ok') {
      const c = reply.content as any;
      throw new Error(text.split('\n').pop() || `${c.ename ?? 'error'}: ${c.evalue ?? ''}`);
    }
    return text;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this.sessionContext.kernelChanged.disconnect(this._onKernelChanged, this);
    this.sessionContext.statusChanged.disconnect(this._onStatus, this);
    this._closeComm();
    this._rejectAll('the notebook was closed');
    this.status = 'closed';
    Signal.clearData(this);
  }

  private _notLiveReason(): string {
    switch (this.status) {
      case 'nocomm':
        return NO_COMM_HINT;
      case 'nokernel':
        return 'the notebook has no kernel';
      case 'lost':
        return 'the kernel is restarting; try again when it is back';
      default:
        return 'not connected to the kernel yet';
    }
  }

  private _open(): void {
    if (this._disposed) {
      return;
    }
    this._closeComm();
    const kernel = this.sessionContext.session?.kernel;
    if (!kernel) {
      this._set('nokernel', 'No kernel: start one to see the graph.');
      return;
    }
    if (kernel.connectionStatus !== 'connected' || ['dead', 'restarting', 'autorestarting'].includes(kernel.status)) {
      this._set('lost', `The kernel is ${kernel.status}; the graph reconnects when it is back.`);
      return;
    }
    this._lastSeq = null;
    this._set('connecting', 'Connecting to the kernel…');
    let comm: Kernel.IComm;
    try {
      comm = kernel.createComm(TARGET);
    } catch (err) {
      this._set('nocomm', NO_COMM_HINT);
      return;
    }
    this._comm = comm;
    this._commKernel = kernel;
    comm.onMsg = msg => {
      if (comm === this._comm) {
        this._onMessage(msg.content.data);
      }
    };
    comm.onClose = msg => {
      if (comm !== this._comm) {
        return;
      }
      this._comm = null;
      this._rejectAll('the kernel closed the graph comm');
      const reason = (msg?.content?.data as any)?.reason;
      if (this.status === 'connecting') {
        // A kernel without the target (stock python3) closes at once.
        this._set('nocomm', NO_COMM_HINT);
      } else {
        this._set('nocomm', reason ? `The kernel closed the graph (${reason}).` : NO_COMM_HINT);
      }
    };
    try {
      const future = comm.open({});
      future.done.catch(() => undefined);
    } catch (err) {
      this._comm = null;
      this._set('lost', `Cannot open the graph comm: ${(err as Error).message}`);
    }
  }

  private _closeComm(): void {
    const comm = this._comm;
    this._comm = null;
    if (comm && !comm.isDisposed && this._commKernel && this._commKernel.connectionStatus === 'connected' && this._commKernel.status !== 'dead') {
      try {
        comm.close().done.catch(() => undefined);
      } catch {
        // the kernel went away: nothing to close
      }
    }
    this._commKernel = null;
  }

  private _onKernelChanged(): void {
    this._rejectAll('the kernel changed');
    this.nodes.clear();
    this.edges = [];
    this.structure++;
    this._open();
  }

  private _onStatus(_: ISessionContext, status: Kernel.Status): void {
    if (this._disposed) {
      return;
    }
    if (status === 'restarting' || status === 'autorestarting' || status === 'dead' || status === 'terminating') {
      this._comm = null;
      this._rejectAll(`the kernel is ${status}`);
      for (const node of this.nodes.values()) {
        if (node.state === 'running') {
          node.state = 'failed';
          node.error = `kernel ${status}`;
        }
      }
      this._lost(
        status === 'dead'
          ? 'The kernel died; restart it to see the graph again.'
          : `The kernel is ${status}; the graph reconnects when it is back.`
      );
    } else if ((status === 'idle' || status === 'busy') && (this.status === 'lost' || this.status === 'nokernel')) {
      this._open();
    }
  }

  private _lost(message: string): void {
    this._comm = null;
    this._set('lost', message);
  }

  private _set(status: Status, message: string): void {
    this.status = status;
    this.message = message;
    this._changed.emit();
  }

  private _rejectAll(reason: string): void {
    for (const [id, p] of this._pending) {
      window.clearTimeout(p.timer);
      p.reject(new Error(reason));
      this._pending.delete(id);
    }
  }

  /** Called from the kernel's comm: never throws. */
  private _onMessage(data: unknown): void {
    try {
      const msg = parseMessage(data);
      if (typeof msg === 'string') {
        this._recover(`Ignored ${msg}; asked the kernel for a fresh graph.`);
        return;
      }
      if (msg.seq !== null && msg.type !== 'snapshot' && this._lastSeq !== null && msg.seq !== this._lastSeq + 1) {
        const what = msg.seq <= this._lastSeq ? 'an out-of-order message' : 'a lost message';
        this._lastSeq = msg.seq > this._lastSeq ? msg.seq : this._lastSeq;
        this._recover(`Noticed ${what} (seq ${msg.seq}); asked the kernel for a fresh graph.`);
        if (msg.type !== 'changes') {
          this._dispatch(msg);
        }
        return;
      }
      if (msg.seq !== null) {
        this._lastSeq = msg.seq;
      }
      this._dispatch(msg);
    } catch (err) {
      this._recover(`Could not apply a graph message (${(err as Error).message}); refreshed.`);
    }
  }

  private _recover(message: string): void {
    this.recoveries++;
    this.message = message;
    this._changed.emit();
    this.refresh();
  }

  private _dispatch(msg: IMessage): void {
    if (typeof msg.reply_to === 'string') {
      const pending = this._pending.get(msg.reply_to);
      if (pending) {
        this._pending.delete(msg.reply_to);
        window.clearTimeout(pending.timer);
        if (msg.type === 'error') {
          pending.reject(new Error(String(msg.error ?? 'the kernel refused the request')));
        } else {
          pending.resolve(msg);
        }
      }
      return;
    }
    switch (msg.type) {
      case 'snapshot':
        this._applySnapshot(msg);
        break;
      case 'changes':
        this._applyChanges(msg);
        this._activity.emit(msg);
        break;
      case 'error':
        this.message = `The kernel says: ${String(msg.error ?? 'error')}`;
        this._changed.emit();
        break;
      case 'closed':
        this._comm = null;
        this._set('nocomm', `The kernel closed the graph (${String(msg.reason ?? 'closed')}).`);
        break;
      default:
        break; // newer message types are ignored
    }
  }

  private _applySnapshot(msg: IMessage): void {
    const graph = (msg.graph ?? {}) as Record<string, unknown>;
    this.nodes.clear();
    for (const raw of Array.isArray(graph.nodes) ? graph.nodes : []) {
      const node = parseNode(raw);
      if (node) {
        this.nodes.set(node.name, node);
      }
    }
    this.edges = parseEdges(graph.edges);
    this.session = typeof msg.session === 'string' ? msg.session : '';
    this.structure++;
    const wasRecovering = this.status !== 'live' || this.message.startsWith('Noticed') || this.message.startsWith('Ignored');
    this.status = 'live';
    if (wasRecovering) {
      this.message = '';
    }
    this._changed.emit();
  }

  private _applyChanges(msg: IMessage): void {
    const changes = Array.isArray(msg.changes) ? msg.changes : [];
    for (const change of changes) {
      if (typeof change !== 'object' || change === null) {
        continue;
      }
      const c = change as Record<string, unknown>;
      switch (c.op) {
        case 'node_added':
        case 'node_updated': {
          const node = parseNode(c.node);
          if (node) {
            if (!this.nodes.has(node.name)) {
              this.structure++;
            } else {
              const old = this.nodes.get(node.name)!;
              if (old.upstream.join() !== node.upstream.join() || old.kind !== node.kind) {
                this.structure++;
              }
            }
            this.nodes.set(node.name, node);
          }
          break;
        }
        case 'node_removed':
          if (typeof c.name === 'string' && this.nodes.delete(c.name)) {
            this.structure++;
          }
          break;
        case 'state': {
          const node = typeof c.name === 'string' ? this.nodes.get(c.name) : undefined;
          if (node && typeof c.state === 'string') {
            node.state = c.state;
          }
          break;
        }
        case 'edges':
          this.edges = parseEdges(c.edges);
          this.structure++;
          break;
        default:
          break; // notes, run_started, run_finished: seen by listeners of `activity`
      }
    }
    if (this.message.startsWith('The kernel says')) {
      this.message = '';
    }
    this._changed.emit();
  }

  private _comm: Kernel.IComm | null = null;
  private _commKernel: Kernel.IKernelConnection | null = null;
  private _lastSeq: number | null = null;
  private _lastId = 0;
  private _pending = new Map<string, IPending>();
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
  private _activity = new Signal<this, IMessage>(this);
}
