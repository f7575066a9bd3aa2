/**
 * Cell badges: under each code cell's prompt, its node's kind and state (stale cells get an
 * amber badge and an amber left border, in the spirit of ipyflow's stale markers) and its policy.
 * The badge lives in the input area beside the prompt, which JupyterLab re-renders on its own.
 */
import { NotebookPanel } from '@jupyterlab/notebook';

import { GraphClient } from './client';
import { IGraphNode, policyText } from './protocol';

const STATES = ['fresh', 'stale', 'running', 'failed'];

export class Badges {
  constructor(private _panel: NotebookPanel, private _client: GraphClient) {
    _client.changed.connect(this.update, this);
    _panel.model?.cells.changed.connect(this._later, this);
    _panel.disposed.connect(() => this.dispose());
    this.update();
  }

  dispose(): void {
    this._client.changed.disconnect(this.update, this);
    this._panel.model?.cells.changed.disconnect(this._later, this);
  }

  /** After cells are added or moved, once their widgets exist. */
  private _later(): void {
    requestAnimationFrame(() => this.update());
  }

  update(): void {
    if (this._panel.isDisposed) {
      return;
    }
    const byCell = new Map<string, IGraphNode>();
    if (this._client.status === 'live' || this._client.status === 'lost') {
      for (const n of this._client.nodes.values()) {
        if (n.cell_id) {
          byCell.set(n.cell_id, n);
        }
      }
    }
    for (const cell of this._panel.content.widgets) {
      if (cell.model.type !== 'code') {
        continue;
      }
      const host = cell.inputArea?.node;
      if (!host) {
        continue;
      }
      let badge = host.querySelector<HTMLDivElement>(':scope > .acx-badge');
      const node = byCell.get(cell.model.id);
      for (const s of STATES) {
        cell.node.classList.toggle(`acx-cell-${s}`, node?.state === s);
      }
      if (!node) {
        badge?.remove();
        cell.node.classList.remove('acx-has-badge', 'acx-has-policy');
        continue;
      }
      if (!badge) {
        badge = document.createElement('div');
        badge.className = 'acx-badge';
        host.appendChild(badge);
      }
      cell.node.classList.add('acx-has-badge');
      badge.dataset.node = node.name;
      badge.dataset.cellId = cell.model.id;
      badge.dataset.kind = node.kind;
      badge.dataset.state = node.state;
      const policy = policyText(node.policy);
      badge.className = `acx-badge acx-state-${node.state}`;
      badge.innerHTML = '';
      const kind = document.createElement('span');
      kind.className = 'acx-badge-kind';
      kind.textContent = node.kind;
      const state = document.createElement('span');
      state.className = 'acx-badge-state';
      state.textContent = node.state;
      badge.append(kind, state);
      if (policy) {
        const p = document.createElement('span');
        p.className = 'acx-badge-policy';
        p.textContent = policy;
        badge.appendChild(p);
      }
      cell.node.classList.toggle('acx-has-policy', !!policy);
      badge.title = `${node.name}: ${node.kind}, ${node.state}${policy ? `; ${policy}` : ''}${node.error ? `\n${node.error}` : ''}`;
    }
  }
}
