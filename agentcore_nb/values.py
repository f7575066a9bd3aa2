"""Values stored in events: JSON when possible, cloudpickle otherwise, a clear error when neither works.

Node outputs and namespace snapshots are kept in the event log so a killed run can resume. Plain
JSON values are stored as they are; anything else (a DataFrame, a function defined in a cell) is
pickled by value with cloudpickle and wrapped as ``{"$pickle": base64}``.
"""

from __future__ import annotations

import base64
from typing import Any

import cloudpickle

from .errors import SerializationError

_SCALARS = (str, int, float, bool, type(None))
PICKLE_KEY = "$pickle"


def _is_plain_json(value: Any, depth: int = 0) -> bool:
    if type(value) in _SCALARS:
        return True
    if depth > 64:
        return False
    if type(value) is list:
        return all(_is_plain_json(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(
            type(k) is str and k != PICKLE_KEY and _is_plain_json(v, depth + 1) for k, v in value.items()
        )
    return False


def plain_json_text(text: bytes) -> bool:
    """Whether ``json.loads(text)`` is surely stored as it is by :func:`encode_value` (plain JSON),
    told from the text in C-speed scans instead of a walk of the parsed value: no ``$pickle`` key
    can be in it (no such text, and no ``\\u`` escape that could spell one) and it cannot nest
    deeper than the walk allows (fewer than 64 brackets). False means "walk it", not "not plain"."""
    return b"$pickle" not in text and b"\\u" not in text and text.count(b"{") + text.count(b"[") < 64


def encode_value(value: Any, *, what: str = "value") -> Any:
    """Return a JSON-compatible form of ``value`` or raise :class:`SerializationError`."""
    if _is_plain_json(value):
        return value
    try:
        blob = cloudpickle.dumps(value)
    except Exception as exc:
        raise SerializationError(
            f"{what} of type {type(value).__name__} cannot be serialized ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'not picklable'})",
            hint="return JSON data (dict, list, str, number) or a picklable object",
        ) from None
    return {PICKLE_KEY: base64.b64encode(blob).decode("ascii")}


def decode_value(data: Any) -> Any:
    """Inverse of :func:`encode_value`."""
    if type(data) is dict and len(data) == 1 and PICKLE_KEY in data:
        return cloudpickle.loads(base64.b64decode(data[PICKLE_KEY]))
    return data


def summarize(value: Any, limit: int = 200) -> str:
    """A short, single-line preview for summaries, span attributes and widgets."""
    text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
