"""Server-sent events framing, as the SDK frames them: ``data: <json>\\n\\n`` per value."""

from __future__ import annotations

import json
from typing import Any

#: ``json.dumps(value, ensure_ascii=False, default=str)``, one encoder for every call.
_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode


def dumps(value: Any) -> str:
    """JSON text of ``value``; what JSON cannot hold is given by its text form."""
    return _encode(value)


def event(value: Any) -> bytes:
    return f"data: {dumps(value)}\n\n".encode()


def error_event(error: str, error_type: str) -> bytes:
    """The final event of a stream whose run failed after it began (status stays 200)."""
    return event({"error": error, "error_type": error_type, "message": "An error occurred during streaming"})
