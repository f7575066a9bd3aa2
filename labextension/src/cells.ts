/** Finding, selecting and scrolling to a notebook's cells by their id (the node's cell_id). */
import { Cell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';

export function cellIds(panel: NotebookPanel): Set<string> {
  return new Set(panel.content.widgets.map(c => c.model.id));
}

/** Make the cell with this id the active (and only selected) cell and scroll to it. */
export function selectCell(panel: NotebookPanel, cellId: string): boolean {
  const notebook = panel.content;
  const index = notebook.widgets.findIndex(c => c.model.id === cellId);
  if (index < 0) {
    return false;
  }
  notebook.mode = 'command';
  notebook.activeCellIndex = index;
  notebook.deselectAll();
  const cell: Cell = notebook.widgets[index];
  void notebook.scrollToCell(cell, 'center').catch(() => undefined);
  notebook.activate();
  return true;
}
