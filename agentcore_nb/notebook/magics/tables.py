"""Results as a table: HTML for the notebook, aligned text for plain frontends and logs."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any


def _cell(value: Any, width: int = 80) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def table_bundle(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> dict[str, str]:
    """A display bundle (``text/plain`` + ``text/html``) for rows under ``columns``."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in r) + "</tr>" for r in cells)
    return {
        "text/plain": "\n".join(lines) if rows else "(no rows)",
        "text/html": f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>",
    }
