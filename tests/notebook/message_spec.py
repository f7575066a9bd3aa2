"""JSON Schemas for the Jupyter messages these tests check (messaging spec 5.x), and a validator.

Written from https://jupyter-client.readthedocs.io/en/stable/messaging.html: every message has a
header, parent header, metadata and content; the content schema depends on ``msg_type``.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import jsonschema

_STR = {"type": "string"}
_INT = {"type": "integer"}
_DICT = {"type": "object"}
_MIME = {"type": "object", "additionalProperties": True}
_ISO_DATE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$"

HEADER = {
    "type": "object",
    "required": ["msg_id", "msg_type", "username", "session", "date", "version"],
    "properties": {
        "msg_id": _STR,
        "msg_type": _STR,
        "username": _STR,
        "session": _STR,
        "date": {"type": "string", "pattern": _ISO_DATE},
        "version": {"type": "string", "pattern": r"^5\.\d+$"},
    },
}

CONTENT: dict[str, dict[str, Any]] = {
    "status": {
        "type": "object",
        "required": ["execution_state"],
        "properties": {"execution_state": {"enum": ["busy", "idle", "starting"]}},
    },
    "execute_input": {
        "type": "object",
        "required": ["code", "execution_count"],
        "properties": {"code": _STR, "execution_count": _INT},
    },
    "stream": {
        "type": "object",
        "required": ["name", "text"],
        "properties": {"name": {"enum": ["stdout", "stderr"]}, "text": _STR},
    },
    "display_data": {
        "type": "object",
        "required": ["data", "metadata"],
        "properties": {"data": _MIME, "metadata": _DICT, "transient": _DICT},
    },
    "update_display_data": {
        "type": "object",
        "required": ["data", "metadata", "transient"],
        "properties": {"data": _MIME, "metadata": _DICT, "transient": _DICT},
    },
    "execute_result": {
        "type": "object",
        "required": ["execution_count", "data", "metadata"],
        "properties": {"execution_count": _INT, "data": _MIME, "metadata": _DICT},
    },
    "error": {
        "type": "object",
        "required": ["ename", "evalue", "traceback"],
        "properties": {"ename": _STR, "evalue": _STR, "traceback": {"type": "array", "items": _STR}},
    },
    "clear_output": {"type": "object", "required": ["wait"], "properties": {"wait": {"type": "boolean"}}},
    "comm_open": {
        "type": "object",
        "required": ["comm_id", "target_name", "data"],
        "properties": {"comm_id": _STR, "target_name": _STR, "data": _DICT},
    },
    "comm_msg": {
        "type": "object",
        "required": ["comm_id", "data"],
        "properties": {"comm_id": _STR, "data": _DICT},
    },
    "comm_close": {"type": "object", "required": ["comm_id"], "properties": {"comm_id": _STR, "data": _DICT}},
    "execute_reply": {
        "type": "object",
        "required": ["status", "execution_count"],
        "properties": {"status": {"enum": ["ok", "error", "aborted"]}, "execution_count": _INT},
        "allOf": [
            {
                "if": {"properties": {"status": {"const": "ok"}}},
                "then": {
                    "required": ["user_expressions", "payload"],
                    "properties": {"user_expressions": _DICT, "payload": {"type": "array"}},
                },
            },
            {
                "if": {"properties": {"status": {"const": "error"}}},
                "then": {
                    "required": ["ename", "evalue", "traceback"],
                    "properties": {
                        "ename": _STR,
                        "evalue": _STR,
                        "traceback": {"type": "array", "items": _STR},
                    },
                },
            },
        ],
    },
    "kernel_info_reply": {
        "type": "object",
        "required": [
            "status",
            "protocol_version",
            "implementation",
            "implementation_version",
            "language_info",
            "banner",
        ],
        "properties": {
            "status": {"const": "ok"},
            "protocol_version": {"type": "string", "pattern": r"^5\.\d+$"},
            "implementation": _STR,
            "implementation_version": _STR,
            "banner": _STR,
            "language_info": {
                "type": "object",
                "required": ["name", "version", "mimetype", "file_extension"],
                "properties": {"name": _STR, "version": _STR, "mimetype": _STR, "file_extension": _STR},
            },
            "help_links": {
                "type": "array",
                "items": {"type": "object", "required": ["text", "url"]},
            },
        },
    },
}

MESSAGE = {
    "type": "object",
    "required": ["header", "parent_header", "metadata", "content", "msg_type", "msg_id"],
    "properties": {"header": HEADER, "parent_header": _DICT, "metadata": _DICT, "content": _DICT},
}


def _jsonable(msg: dict[str, Any]) -> Any:
    """jupyter_client turns header dates into datetimes; the wire form is an ISO string."""

    def default(value: Any) -> Any:
        if isinstance(value, datetime.datetime):
            return value.isoformat()
        raise TypeError(type(value).__name__)

    keep = {
        k: msg[k]
        for k in ("header", "parent_header", "metadata", "content", "msg_type", "msg_id")
        if k in msg
    }
    return json.loads(json.dumps(keep, default=default))


def validate_message(msg: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` if ``msg`` breaks the spec for its type."""
    data = _jsonable(msg)
    jsonschema.validate(data, MESSAGE)
    msg_type = data["header"]["msg_type"]
    if msg_type not in CONTENT:
        raise AssertionError(f"no schema for message type {msg_type!r}")
    jsonschema.validate(data["content"], CONTENT[msg_type])
    if data["parent_header"]:
        jsonschema.validate(data["parent_header"], HEADER)
