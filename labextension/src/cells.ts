/** Finding, selecting and scrolling to a notebook's cells by their id (the node's cell_id). */
import { Cell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';

export function cellIds(panel: NotebookPanel): Set<string> {
  return new Set(panel.content.widgets.map(c => c.model.id));
}

/** Make the cell with this id the active (and only selected) cell and scroll to it. */
export function selectCell(panel: NotebookPanel, cellId: string): boolean {
  return selectCellAt(panel, panel.content.widgets.findIndex(c => c.model.id === cellId));
}

/** The same for the cell at this 0-based position. */
export function selectCellAt(panel: NotebookPanel, index: number): boolean {
  const notebook = panel.content;
  if (!Number.isInteger(index) || index < 0 || index >= notebook.widgets.length) {
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
