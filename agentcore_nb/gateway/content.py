"""Tool results with more than text: MCP content blocks (text, image, audio, resource link,
embedded resource) and structured content, kept whole from the server to whoever shows them.

A :class:`ToolResult` is a plain dict in MCP's own ``CallToolResult`` wire form
(``{"content": [...], "structuredContent": ...}``), so it is JSON as it stands (events, node
outputs, replay) and ``serve-mcp`` hands it to its clients unchanged. Results that are text only
stay plain values (the structured content, or the text parsed as JSON), as before.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import mimetypes
from pathlib import Path
from typing import Any

from .spec import ToolOutputError

BINARY_TYPES = ("image", "audio")
#: Image types the model providers accept inline (Anthropic's list; OpenAI takes the same ones).
MODEL_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
#: Types the platform's mimetypes table may not know (it has ``audio/x-wav``, not ``audio/wav``).
_EXTENSIONS = {"audio/wav": ".wav", "audio/mpeg": ".mp3", "audio/ogg": ".ogg", "image/webp": ".webp",
               "image/png": ".png", "image/jpeg": ".jpg"}  # fmt: skip


class ToolResult(dict):  # type: ignore[type-arg]
    """An MCP tool result kept whole: ``content`` blocks and, when given, ``structuredContent``."""

    @property
    def content(self) -> list[dict[str, Any]]:
        return list(self.get("content") or [])

    @property
    def structured(self) -> Any:
        return self.get("structuredContent")

    def text(self) -> str:
        """Every block as text: text blocks as they are, the others as a short stand-in."""
        return "\n".join(b["text"] if b.get("type") == "text" else stand_in(b) for b in self.content)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": self.text()}
        for block in self.content:
            mime = block.get("mimeType", "")
            if block.get("type") == "image" and mime in ("image/png", "image/jpeg", "image/gif"):
                bundle.setdefault(mime, block["data"])
        return bundle


def is_tool_result(value: Any) -> bool:
    """A ToolResult, or a dict of its shape (one that came back from the event log)."""
    if isinstance(value, ToolResult):
        return True
    return (
        isinstance(value, dict)
        and isinstance(value.get("content"), list)
        and set(value) <= {"content", "structuredContent"}
        and all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in value["content"])
    )


def as_tool_result(value: Any) -> ToolResult | None:
    if isinstance(value, ToolResult):
        return value
    return ToolResult(value) if is_tool_result(value) else None


def _size(data: str) -> int:
    return len(data) * 3 // 4 - data[-2:].count("=") if data else 0


def _human(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} kB" if n < 1024 * 1024 else f"{n / 1048576:.1f} MB"


def stand_in(block: dict[str, Any]) -> str:
    """``[image image/png, 2.0 kB]``: what a reader that cannot take the block is told of it."""
    kind = block.get("type")
    if kind in BINARY_TYPES:
        return f"[{kind} {block.get('mimeType', '?')}, {_human(_size(block.get('data', '')))}]"
    if kind == "resource_link":
        return f"[resource link {block.get('uri', '')} {block.get('name', '')}]".replace(" ]", "]")
    if kind == "resource":
        res = block.get("resource") or {}
        if "text" in res:
            return f"[resource {res.get('uri', '')}]\n{res['text']}"
        return f"[resource {res.get('uri', '')} {res.get('mimeType', '?')}, {_human(_size(res.get('blob', '')))}]"
    return f"[{kind}]"


def check_blocks(blocks: list[dict[str, Any]], what: str) -> None:
    """Refuse binary data that is not base64 (one line naming the block) before anyone shows it."""
    for i, block in enumerate(blocks):
        kind = block.get("type")
        data = block.get("data") if kind in BINARY_TYPES else (block.get("resource") or {}).get("blob")
        if data is None:
            continue
        try:
            base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise ToolOutputError(f"{what} returned {kind} content #{i} that is not valid base64") from None


def binary_parts(result: ToolResult) -> list[tuple[str, str, bytes]]:
    """``(kind, mime type, bytes)`` of every binary block (images, audio, blob resources)."""
    out = []
    for block in result.content:
        kind = block.get("type")
        if kind in BINARY_TYPES:
            out.append(
                (kind, block.get("mimeType", "application/octet-stream"), base64.b64decode(block["data"]))
            )
        elif kind == "resource" and "blob" in (block.get("resource") or {}):
            res = block["resource"]
            out.append(
                ("resource", res.get("mimeType") or "application/octet-stream", base64.b64decode(res["blob"]))
            )
    return out


def save_binaries(result: ToolResult, directory: Path, stem: str) -> list[Path]:
    """Write each binary block to ``DIR/STEM-N.EXT`` (never over an existing file)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, (_, mime, data) in enumerate(binary_parts(result), 1):
        base = mime.split(";")[0].strip().lower()
        ext = _EXTENSIONS.get(base) or mimetypes.guess_extension(base) or ".bin"
        path = directory / f"{stem}-{n}{ext}"
        i = 1
        while path.exists():
            i += 1
            path = directory / f"{stem}-{n}.{i}{ext}"
        path.write_bytes(data)
        paths.append(path)
    return paths


def display_bundles(result: ToolResult) -> list[dict[str, Any]]:
    """One Jupyter mime bundle per block, in order: text, images, audio players, links, resources."""
    out: list[dict[str, Any]] = []
    for block in result.content:
        kind, mime = block.get("type"), block.get("mimeType", "")
        if kind == "text":
            out.append({"text/plain": block["text"]})
        elif kind == "image":
            bundle = {"text/plain": stand_in(block)}
            if mime.startswith("image/") and mime != "image/svg+xml":
                bundle[mime] = block["data"]
            out.append(bundle)
        elif kind == "audio":
            src = f"data:{html.escape(mime)};base64,{block['data']}"
            out.append({"text/plain": stand_in(block), "text/html": f'<audio controls src="{src}"></audio>'})
        elif kind == "resource_link":
            uri = html.escape(str(block.get("uri", "")))
            label = html.escape(str(block.get("name") or block.get("uri", "")))
            out.append({"text/plain": stand_in(block), "text/html": f'<a href="{uri}">{label}</a>'})
        else:
            out.append({"text/plain": stand_in(block)})
    if result.structured is not None:
        out.append(
            {"application/json": result.structured, "text/plain": json.dumps(result.structured, indent=2)}
        )
    return out


def model_parts(value: Any) -> tuple[Any, list[dict[str, str]]]:
    """What a model is given for a tool result: the value (text stand-ins for non-text blocks) and
    the images a multimodal model can take (``{"mime_type", "data"}``, base64)."""
    result = as_tool_result(value)
    if result is None:
        return value, []
    images = [
        {"mime_type": b["mimeType"], "data": b["data"]}
        for b in result.content
        if b.get("type") == "image" and b.get("mimeType") in MODEL_IMAGE_TYPES
    ]
    text = result.text()
    if result.structured is not None:
        text += "\n" + json.dumps(result.structured, ensure_ascii=False)
    return text, images
