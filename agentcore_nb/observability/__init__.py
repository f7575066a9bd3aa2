"""Traces and summaries of runs: OpenTelemetry spans (GenAI conventions) and views of the event log."""

from .summary import NodeRow, format_run_summary, node_rows

__all__ = ["NodeRow", "format_run_summary", "node_rows"]
