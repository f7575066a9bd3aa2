"""Media types: which request bodies the gateway can build, and the file argument's shape."""

from __future__ import annotations

from typing import Any

JSON, FORM, MULTIPART, TEXT, BINARY = "json", "form", "multipart", "text", "binary"
_ORDER = {JSON: 0, FORM: 1, MULTIPART: 2, TEXT: 3, BINARY: 4}

FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": 'A file: {"path": "report.pdf"} (a file under the working directory) or '
    '{"base64": "...", "filename": "report.pdf", "contentType": "application/pdf"}.',
    "properties": {
        "path": {"type": "string"},
        "base64": {"type": "string", "contentEncoding": "base64"},
        "filename": {"type": "string"},
        "contentType": {"type": "string"},
    },
    "oneOf": [{"required": ["path"]}, {"required": ["base64"]}],
    "additionalProperties": False,
}

FILE_REF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A response body saved to a file",
    "properties": {
        "file": {"type": "string"},
        "contentType": {"type": "string"},
        "size": {"type": "integer"},
    },
    "required": ["file", "contentType", "size"],
}


def essence(media: str) -> str:
    return media.split(";", 1)[0].strip().lower()


def is_json(media: str) -> bool:
    m = essence(media)
    return m == "application/json" or m.endswith("+json") or m in ("*/*", "application/*", "text/json")


def is_texty(media: str) -> bool:
    m = essence(media)
    return (
        m.startswith("text/")
        or m.endswith(("+xml", "/xml", "/javascript", "/yaml", "/csv"))
        or m
        in (
            "application/x-yaml",
            "application/x-ndjson",
            "application/jsonl",
        )
    )


def body_kind(media: str, schema: Any) -> str | None:
    """How a request body of this media type is built, or None if the gateway cannot build it."""
    m = essence(media)
    if is_json(m):
        return JSON
    if m == "application/x-www-form-urlencoded":
        return FORM
    if m == "multipart/form-data":
        return MULTIPART
    structured = isinstance(schema, dict) and bool(schema) and schema.get("type", "object") != "string"
    if is_texty(m):
        return None if structured else TEXT  # XML and the like cannot be built from arguments
    if m.startswith("multipart/"):
        return None
    return BINARY  # octet-stream, images, audio...: the bytes of a file, whatever the schema says


def preference(kind: str) -> int:
    return _ORDER[kind]
