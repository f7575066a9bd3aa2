"""Rich results from the sandbox, made safe for the host's notebook.

What sandboxed code returns is untrusted: HTML, SVG or Markdown from it, shown in JupyterLab as a
trusted output, could run script in the user's browser, which can drive the kernel, which runs on
the host. So only inert forms cross: plain text, JSON, PNG/JPEG images whose bytes are checked, and
tables as data (``application/vnd.dataresource+json``), which the host renders to HTML itself,
escaping every value.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
from typing import Any

MAX_HTML_ROWS = 60
_IMAGE_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
_TABLE = "application/vnd.dataresource+json"


def _image(mime: str, value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return value if raw.startswith(_IMAGE_MAGIC[mime]) else None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return html.escape(text[:1000])


def table_html(resource: dict[str, Any], total_rows: int | None = None) -> str | None:
    """An HTML table of a Table Schema resource, every value escaped (None if it is malformed)."""
    schema = resource.get("schema")
    rows = resource.get("data")
    if not isinstance(schema, dict) or not isinstance(rows, list):
        return None
    fields = [f.get("name") for f in schema.get("fields", []) if isinstance(f, dict)]
    if not fields or not all(isinstance(r, dict) for r in rows):
        return None
    keys = [str(k) for k in schema.get("primaryKey") or [] if isinstance(k, str)]
    shown = rows if len(rows) <= MAX_HTML_ROWS else rows[: MAX_HTML_ROWS // 2] + rows[-MAX_HTML_ROWS // 2 :]
    head = "".join(f"<th>{_cell(f)}</th>" for f in fields)
    body = []
    for i, row in enumerate(shown):
        if len(rows) > MAX_HTML_ROWS and i == MAX_HTML_ROWS // 2:
            body.append(f'<tr><td colspan="{len(fields)}">...</td></tr>')
        cells = "".join(
            (f"<th>{_cell(row.get(f))}</th>" if f in keys else f"<td>{_cell(row.get(f))}</td>")
            for f in fields
        )
        body.append(f"<tr>{cells}</tr>")
    count = total_rows if isinstance(total_rows, int) and total_rows >= 0 else len(rows)
    return (
        '<table class="dataframe" border="1">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        f"<p>{count} rows &times; {len(fields)} columns</p>"
    )


def safe_result(item: Any) -> dict[str, Any] | None:
    """One mime bundle with only inert forms kept (None if nothing is left)."""
    if not isinstance(item, dict) or not isinstance(item.get("data"), dict):
        return None
    data = item["data"]
    meta: dict[str, Any] = item["metadata"] if isinstance(item.get("metadata"), dict) else {}
    out: dict[str, Any] = {}
    if isinstance(data.get("text/plain"), str):
        out["text/plain"] = data["text/plain"]
    for mime in _IMAGE_MAGIC:
        if mime in data and (image := _image(mime, data[mime])) is not None:
            out[mime] = image
    if isinstance(data.get("application/json"), (dict, list)):
        out["application/json"] = data["application/json"]
    resource = data.get(_TABLE)
    if isinstance(resource, dict) and (rendered := table_html(resource, meta.get("rows"))) is not None:
        out[_TABLE] = resource
        out["text/html"] = rendered
    if not out:
        return None
    safe_meta = {k: v for k, v in meta.items() if k in ("rows", "truncated") and isinstance(v, (int, bool))}
    return {"data": out, "metadata": safe_meta}


def safe_results(items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        return []
    return [r for r in (safe_result(x) for x in items[:100]) if r is not None]
