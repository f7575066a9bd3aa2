/**
 * agentcore-nb's JupyterLab extension: a graph sidebar, cell badges and a trace sidebar for every
 * notebook whose kernel speaks the `agentcore.graph` comm, plus commands (palette and notebook
 * toolbar) to run the graph, run the stale cells and export the notebook as a graph bundle.
 */
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ICommandPalette, Notification, ToolbarButton, showDialog } from '@jupyterlab/apputils';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookModel, INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

import { Badges } from './badges';
import { GraphClient } from './client';
import { GraphPanel } from './graphpanel';
import { parseProblems } from './protocol';
import { graphIcon, traceIcon } from './icons';
import { TracePanel } from './tracepanel';

const CMD = {
  runGraph: 'agentcore-nb:run-graph',
  runStale: 'agentcore-nb:run-stale',
  exportBundle: 'agentcore-nb:export',
  showGraph: 'agentcore-nb:show-graph',
  showTraces: 'agentcore-nb:show-traces',
  refresh: 'agentcore-nb:refresh-graph'
};

/** A default bundle folder for a notebook: build/<stem>-bundle (relative to the notebook's folder). */
export function defaultBundlePath(notebookPath: string): string {
  const base = notebookPath.split('/').pop() ?? 'notebook.ipynb';
  const stem = base.replace(/\.ipynb$/, '') || 'notebook';
  return `build/${stem}-bundle`;
}

class ToolbarExtension implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel> {
  constructor(private _app: JupyterFrontEnd) {}

  createNew(panel: NotebookPanel): IDisposable {
    const items: [string, string, string][] = [
      ['agentcore-graph', 'Graph', CMD.showGraph],
      ['agentcore-run-graph', 'Run graph', CMD.runGraph],
      ['agentcore-run-stale', 'Run stale', CMD.runStale],
      ['agentcore-export', 'Export', CMD.exportBundle],
      ['agentcore-traces', 'Traces', CMD.showTraces]
    ];
    const buttons = items.map(([name, label, command]) => {
      const button = new ToolbarButton({
        label,
        className: `acx-toolbar-${name}`,
        tooltip: this._app.commands.caption(command) || label,
        onClick: () => void this._app.commands.execute(command).catch(() => undefined)
      });
      panel.toolbar.insertItem(10, name, button);
      return button;
    });
    return {
      get isDisposed() {
        return buttons.every(b => b.isDisposed);
      },
      dispose: () => buttons.forEach(b => b.dispose())
    };
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'agentcore-nb-labextension:plugin',
  description: 'Live graph of the notebook, cell badges, traces, export and run commands for agentcore-nb.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ILabShell],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker, palette: ICommandPalette | null, labShell: ILabShell | null) => {
    const clients = new Map<NotebookPanel, GraphClient>();
    const graphPanel = new GraphPanel(app.commands);
    const tracePanel = new TracePanel();
    graphPanel.title.icon = graphIcon;
    tracePanel.title.icon = traceIcon;
    app.shell.add(graphPanel, 'right', { rank: 600 });
    app.shell.add(tracePanel, 'right', { rank: 610 });

    const follow = () => {
      const panel = tracker.currentWidget;
      const client = panel ? clients.get(panel) ?? null : null;
      graphPanel.setNotebook(panel, client);
      tracePanel.setClient(client);
    };

    tracker.widgetAdded.connect((_, panel) => {
      const client = new GraphClient(panel.sessionContext);
      clients.set(panel, client);
      new Badges(panel, client);
      panel.disposed.connect(() => {
        clients.delete(panel);
        client.dispose();
        if (graphPanel.notebook === panel) {
          follow();
        }
      });
      if (tracker.currentWidget === panel) {
        follow();
      }
    });
    tracker.currentChanged.connect(follow);
    // A stock kernel gains the comm with `%load_ext agentcore_nb`: try again after such a cell.
    NotebookActions.executed.connect((_, { notebook, cell }) => {
      for (const [panel, client] of clients) {
        if (panel.content === notebook && client.status === 'nocomm' && cell.model.sharedModel.getSource().includes('agentcore_nb')) {
          client.refresh();
        }
      }
    });

    const current = (): [NotebookPanel, GraphClient] | null => {
      const panel = tracker.currentWidget;
      const client = panel ? clients.get(panel) : undefined;
      return panel && client ? [panel, client] : null;
    };
    const activate = (w: Widget) => {
      if (labShell) {
        labShell.expandRight();
      }
      app.shell.activateById(w.id);
    };

    const runCode = async (code: string, label: string) => {
      const cur = current();
      if (!cur) {
        return;
      }
      activate(graphPanel);
      graphPanel.note(`${label}…`);
      try {
        const out = await cur[1].execute(code);
        const last = out.split('\n').filter(Boolean).pop() ?? '';
        graphPanel.note(`${label}: done${last ? ` (${last.slice(0, 160)})` : ''}`);
      } catch (err) {
        graphPanel.note(`${label} failed: ${(err as Error).message.slice(0, 200)}`);
      }
    };

    app.commands.addCommand(CMD.runGraph, {
      label: 'Run graph',
      caption: 'Run the notebook graph through the engine (%graph run)',
      isEnabled: () => !!tracker.currentWidget,
      execute: () => runCode('%graph run', 'Run graph')
    });
    app.commands.addCommand(CMD.runStale, {
      label: 'Run stale cells',
      caption: 'Re-run the stale cells through the engine (%graph run --stale)',
      isEnabled: () => !!tracker.currentWidget,
      execute: () => runCode('%graph run --stale', 'Run stale cells')
    });
    app.commands.addCommand(CMD.showGraph, {
      label: 'Show graph',
      caption: 'Show the live graph of the notebook',
      execute: () => activate(graphPanel)
    });
    app.commands.addCommand(CMD.showTraces, {
      label: 'Show traces',
      caption: "Show the notebook's runs and their traces",
      execute: () => activate(tracePanel)
    });
    app.commands.addCommand(CMD.refresh, {
      label: 'Refresh graph',
      caption: 'Ask the kernel for the whole graph again',
      execute: () => current()?.[1].refresh()
    });
    app.commands.addCommand(CMD.exportBundle, {
      label: 'Export graph bundle',
      caption: 'Export the notebook as a graph bundle (runs with `agentcore run local`)',
      isEnabled: () => !!tracker.currentWidget,
      execute: async () => {
        const cur = current();
        if (!cur) {
          return;
        }
        const [panel, client] = cur;
        const input = document.createElement('input');
        input.className = 'jp-mod-styled acx-export-path';
        input.value = defaultBundlePath(panel.context.path);
        const body = new Widget({ node: document.createElement('div') });
        const label = document.createElement('label');
        label.textContent = "Bundle folder (relative to the notebook's folder):";
        body.node.append(label, input);
        const result = await showDialog({
          title: 'Export graph bundle',
          body,
          focusNodeSelector: 'input',
          buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Export' })]
        });
        if (!result.button.accept) {
          return;
        }
        const path = input.value.trim() || defaultBundlePath(panel.context.path);
        activate(graphPanel);
        graphPanel.showExport(true, `Exporting to ${path}…`, []);
        try {
          const reply = await client.request(
            { type: 'export', notebook: panel.model!.toJSON(), path, notebook_path: panel.context.path },
            300_000
          );
          if (reply.type === 'exported') {
            const nodes = Array.isArray(reply.nodes) ? reply.nodes.length : 0;
            graphPanel.showExport(true, `Exported ${nodes} nodes to ${String(reply.path)}`, []);
            Notification.success(`Graph bundle written to ${String(reply.path)}`, { autoClose: 5000 });
          } else if (reply.type === 'export_refused') {
            const problems = parseProblems(reply.problems);
            graphPanel.showExport(false, `Export refused: ${String(reply.message ?? '')}`, problems);
          } else {
            graphPanel.showExport(false, `Export: unexpected answer '${reply.type}'`, []);
          }
        } catch (err) {
          graphPanel.showExport(false, `Export failed: ${(err as Error).message}`, []);
        }
      }
    });
    if (palette) {
      for (const command of Object.values(CMD)) {
        palette.addItem({ command, category: 'AgentCore' });
      }
    }
    app.docRegistry.addWidgetExtension('Notebook', new ToolbarExtension(app));
    follow();
  }
};

export default plugin;
