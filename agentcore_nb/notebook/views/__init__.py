"""Widgets that draw the engine's views: a run's trace and the notebook's graph (anywidget)."""
