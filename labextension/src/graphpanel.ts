/**
 * The graph sidebar: the live graph of the current notebook's cells, its status line (a hint on
 * a kernel without the graph, what went wrong and that it recovers), run and export buttons, and
 * the last export's outcome (a refusal lists its problems as links to their cells).
 */
import { NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { cellIds, selectCell, selectCellAt } from './cells';
import { GraphClient } from './client';
import { GraphView } from './graphview';
import { IProblem } from './protocol';

export class GraphPanel extends Widget {
  constructor(private _commands: { execute: (id: string) => Promise<unknown> }) {
    super();
    this.id = 'agentcore-graph-panel';
    this.addClass('acx-panel');
    this.addClass('acx-graph-panel');
    this.title.caption = 'AgentCore graph of the notebook';
    this.title.label = 'Graph';
    this._header = document.createElement('div');
    this._header.className = 'acx-header';
    this._status = document.createElement('div');
    this._status.className = 'acx-status';
    const bar = document.createElement('div');
    bar.className = 'acx-buttons';
    for (const [label, command, title] of [
      ['Run graph', 'agentcore-nb:run-graph', 'Run the whole graph through the engine (%graph run)'],
      ['Run stale', 'agentcore-nb:run-stale', 'Re-run the stale cells (%graph run --stale)'],
      ['Export', 'agentcore-nb:export', 'Export the notebook as a graph bundle'],
      ['Refresh', 'agentcore-nb:refresh-graph', 'Ask the kernel for the whole graph again']
    ]) {
      const b = document.createElement('button');
      b.className = 'jp-Button acx-button';
      b.dataset.command = command;
      b.textContent = label;
      b.title = title;
      b.addEventListener('click', () => void this._commands.execute(command).catch(() => undefined));
      bar.appendChild(b);
    }
    this._view = new GraphView();
    this._view.onSelect = name => this._select(name);
    this._report = document.createElement('div');
    this._report.className = 'acx-report';
    const legend = document.createElement('div');
    legend.className = 'acx-legend';
    legend.innerHTML = ['fresh', 'stale', 'running', 'failed']
      .map(s => `<span class="acx-legend-item acx-state-${s}"><i></i>${s}</span>`)
      .join('');
    this.node.append(this._header, this._status, bar, this._view.node, legend, this._report);
    this._render();
  }

  get notebook(): NotebookPanel | null {
    return this._panel;
  }

  /** Follow another notebook (or none). */
  setNotebook(panel: NotebookPanel | null, client: GraphClient | null): void {
    if (this._client) {
      this._client.changed.disconnect(this._onChanged, this);
    }
    if (this._panel) {
      this._panel.content.activeCellChanged.disconnect(this._onActiveCell, this);
      this._panel.model?.cells.changed.disconnect(this._onCellsChanged, this);
    }
    this._panel = panel;
    this._client = client;
    this._structure = -1;
    if (client) {
      client.changed.connect(this._onChanged, this);
    }
    if (panel) {
      panel.content.activeCellChanged.connect(this._onActiveCell, this);
      panel.model?.cells.changed.connect(this._onCellsChanged, this);
    }
    this._report.textContent = '';
    this._render();
  }

  /** Show what an export did: the bundle, or the refusal with links to the cells. */
  showExport(ok: boolean, message: string, problems: IProblem[]): void {
    this._report.textContent = '';
    const head = document.createElement('div');
    head.className = ok ? 'acx-report-ok' : 'acx-report-refused';
    head.textContent = message;
    this._report.appendChild(head);
    const list = document.createElement('ul');
    for (const p of problems) {
      const li = document.createElement('li');
      li.className = 'acx-report-problem';
      li.dataset.kind = p.kind;
      const where = p.node ?? (p.cell_id ? `cell ${p.cell_id.slice(0, 8)}` : p.index !== null ? `cell #${p.index}` : '');
      if ((p.cell_id || p.index !== null) && this._panel) {
        const a = document.createElement('a');
        a.className = 'acx-report-link';
        a.href = '#';
        if (p.cell_id) {
          a.dataset.cellId = p.cell_id;
        }
        if (p.index !== null) {
          a.dataset.cellIndex = String(p.index);
        }
        a.textContent = where || 'cell';
        const panel = this._panel;
        const { cell_id: cellId, index } = p;
        a.addEventListener('click', ev => {
          ev.preventDefault();
          // by id; by position when the cell has no id (or the kernel's notebook model had none)
          if (!(cellId && selectCell(panel, cellId)) && index !== null) {
            selectCellAt(panel, index - 1);
          }
        });
        li.append(a, document.createTextNode(`: ${p.message}`));
      } else {
        li.textContent = where ? `${where}: ${p.message}` : p.message;
      }
      list.appendChild(li);
    }
    if (problems.length) {
      this._report.appendChild(list);
    }
  }

  /** A one-line note from a command (run output, an error). */
  note(text: string): void {
    this._note = text;
    this._render();
  }

  protected onAfterShow(): void {
    this._structure = -1;
    this._render();
  }

  protected onResize(): void {
    this._view.fit();
  }

  private _onChanged(): void {
    this._render();
  }

  private _onCellsChanged(): void {
    this._render();
  }

  private _onActiveCell(): void {
    this._view.highlight(this._activeNode());
  }

  private _activeNode(): string | null {
    const id = this._panel?.content.activeCell?.model.id;
    if (!id || !this._client) {
      return null;
    }
    for (const n of this._client.nodes.values()) {
      if (n.cell_id === id) {
        return n.name;
      }
    }
    return null;
  }

  private _select(name: string): void {
    const node = this._client?.nodes.get(name);
    if (!node || !this._panel) {
      return;
    }
    if (!node.cell_id || !selectCell(this._panel, node.cell_id)) {
      this.note(`${name} has no cell in this notebook (it was deleted or comes from another frontend).`);
    }
  }

  private _render(): void {
    const client = this._client;
    const panel = this._panel;
    this._header.textContent = panel ? panel.context.path : 'No notebook open';
    this.node.dataset.status = client ? client.status : 'none';
    this.node.dataset.recoveries = String(client?.recoveries ?? 0);
    const line = client ? client.message || this._note : 'Open a notebook to see its graph.';
    this._status.textContent = line;
    this._status.classList.toggle('acx-hint', client?.status === 'nocomm');
    this._status.style.display = line ? '' : 'none';
    if (!client || !panel || !this.isVisible) {
      if (!client) {
        this._view.render([], [], true, new Set());
      }
      return;
    }
    const ids = cellIds(panel);
    const order = new Map(panel.content.widgets.map((c, i) => [c.model.id, i]));
    const at = (cellId: string | null) => (cellId !== null && order.has(cellId) ? order.get(cellId)! : Infinity);
    const nodes = Array.from(client.nodes.values()).sort((a, b) => at(a.cell_id) - at(b.cell_id));
    const missing = new Set(nodes.filter(n => n.cell_id && !ids.has(n.cell_id)).map(n => n.name));
    const relayout = client.structure !== this._structure;
    this._structure = client.structure;
    this._view.render(nodes, client.edges, relayout, missing);
    this._view.highlight(this._activeNode());
    this.node.dataset.nodes = String(nodes.length);
  }

  private _panel: NotebookPanel | null = null;
  private _client: GraphClient | null = null;
  private _structure = -1;
  private _note = '';
  private _header: HTMLDivElement;
  private _status: HTMLDivElement;
  private _report: HTMLDivElement;
  private _view: GraphView;
}
