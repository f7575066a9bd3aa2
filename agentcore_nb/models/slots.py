"""Fill a tool's arguments from a plain-language request, guided by the tool's input schema.

The offline reasoner uses this instead of a language model. It reads what a request literally
contains: quoted strings, code in backticks, id-like tokens (``1234``, ``ORD-42``, ``#77``),
numbers, enum values, e-mail addresses and URLs, and places them by property type, name and
pattern. What it cannot find stays missing; it never invents a value.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from .._jsonschema import jsonschema

_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|(?<![A-Za-z])'([^']+)'(?![A-Za-z])")
_FENCED = re.compile(r"```[A-Za-z]*\n?(.*?)```", re.S)
_TICKED = re.compile(r"`([^`]+)`")
_TOKEN = re.compile(r"#?[A-Za-z0-9][A-Za-z0-9_\-./:@]*")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"https?://[^\s\"'<>]+")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ][0-9:]+Z?)?\b")
_TEXTY = frozenset(
    [
        "query",
        "question",
        "text",
        "prompt",
        "request",
        "message",
        "input",
        "q",
        "topic",
        "search",
        "content",
        "body",
        "task",
        "instructions",
        "description",
        "ask",
    ]
)
_CODEY = frozenset(["code", "command", "script", "expression", "sql", "source"])
_IDISH = ("id", "number", "code", "sku", "ref", "reference", "key", "num", "no")


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def _is_idish(prop: str) -> bool:
    words = _words(prop)
    return bool(words) and (words[-1] in _IDISH or prop.lower().endswith("id"))


@dataclass(slots=True)
class Clues:
    """Everything value-like found in the request, in order of appearance."""

    text: str
    quoted: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    ids: list[tuple[int, str]] = field(default_factory=list)  # (position, token)
    numbers: list[tuple[int, str]] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, text: str) -> Clues:
        c = cls(text)
        c.code = [m.group(1).strip() for m in _FENCED.finditer(text)]
        rest = _FENCED.sub(" ", text)
        c.code += [m.group(1).strip() for m in _TICKED.finditer(rest)]
        rest = _TICKED.sub(" ", rest)
        c.quoted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(rest)]
        c.emails = _EMAIL.findall(rest)
        c.urls = [u.rstrip(".,;)") for u in _URL.findall(rest)]
        c.dates = _DATE.findall(rest)
        for m in _TOKEN.finditer(rest):
            tok = m.group(0).rstrip(".,;:!?)")
            if any(ch.isdigit() for ch in tok) and tok not in c.emails and not tok.startswith("http"):
                c.ids.append((m.start(), tok.lstrip("#")))
        c.numbers = [(m.start(), m.group(0)) for m in _NUMBER.finditer(rest)]
        return c

    def words_before(self, pos: int, n: int = 3) -> list[str]:
        return [w.lower() for w in re.findall(r"[A-Za-z]+", self.text[:pos])[-n:]]


def _pick_near(candidates: list[tuple[int, str]], clues: Clues, name_words: list[str]) -> str | None:
    free = [(p, t) for p, t in candidates if t not in clues.used]
    if not free:
        return None
    hints = {w for w in name_words if w not in _IDISH} or set(name_words)
    for pos, tok in free:
        before = clues.words_before(pos)
        if any(h in before or h.rstrip("s") in before for h in hints):
            return tok
    return free[0][1]


def _string_value(prop: str, schema: dict[str, Any], clues: Clues, only_string: bool) -> str | None:
    words = _words(prop)
    fmt = schema.get("format")
    pattern = schema.get("pattern")
    if fmt == "email" or "email" in words:
        return next((e for e in clues.emails if e not in clues.used), None)
    if fmt in ("uri", "url") or words[-1:] in (["url"], ["uri"]):
        return next((u for u in clues.urls if u not in clues.used), None)
    if fmt in ("date", "date-time") or "date" in words:
        return next((d for d in clues.dates if d not in clues.used), None)
    if pattern:
        try:
            rx = re.compile(pattern)
        except re.error:
            rx = None
        if rx is not None:
            pool = clues.quoted + [t for _, t in clues.ids] + re.findall(r"\S+", clues.text)
            return next((v for v in pool if v not in clues.used and rx.search(v)), None)
    if set(words) & _CODEY:
        return next((c for c in clues.code if c not in clues.used), None)
    if _is_idish(prop):
        found = _pick_near(clues.ids, clues, words)
        if found is not None:
            return found
        return next((q for q in clues.quoted if q not in clues.used), None)
    if set(words) & _TEXTY:
        return next((q for q in clues.quoted if q not in clues.used), None) or clues.text.strip()
    quoted = next((q for q in clues.quoted if q not in clues.used), None)
    if quoted is not None:
        return quoted
    return clues.text.strip() if only_string else None


def _enum_value(schema: dict[str, Any], clues: Clues) -> Any:
    lowered = clues.text.lower()
    for option in schema["enum"]:
        if isinstance(option, str) and re.search(rf"(?<![\w]){re.escape(option.lower())}(?![\w])", lowered):
            return option
    return schema.get("default")


def _number_value(prop: str, schema: dict[str, Any], clues: Clues, required: bool) -> int | float | None:
    words = _words(prop)
    near = None
    free = [(p, t) for p, t in clues.numbers if t not in clues.used]
    for pos, tok in free:
        if set(clues.words_before(pos, 2)) & set(words):
            near = tok
            break
    if near is None and required and free:
        near = free[0][1]
    if near is None:
        return None
    clues.used.add(near)
    value = float(near)
    if schema.get("type") == "integer":
        if not value.is_integer():
            return None
        return int(value)
    return int(value) if value.is_integer() else value


def fill_arguments(request: str, schema: dict[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    """``(arguments, missing required properties)`` for a request and an input schema."""
    schema = schema or {}
    props: dict[str, Any] = schema.get("properties") or {}
    required = [r for r in schema.get("required") or [] if r in props]
    clues = Clues.of(request)
    args: dict[str, Any] = {}
    missing: list[str] = []
    string_props = [
        p
        for p, s in props.items()
        if isinstance(s, dict) and s.get("type", "string") == "string" and "enum" not in s
    ]
    only_string = len([p for p in required if p in string_props]) == 1 and len(required) == 1
    order = required + [p for p in props if p not in required]
    for prop in order:
        sub = props[prop] if isinstance(props[prop], dict) else {}
        is_required = prop in required
        value: Any = None
        if "enum" in sub:
            value = _enum_value(sub, clues)
        else:
            kind = sub.get("type", "string")
            if isinstance(kind, list):
                kind = next((k for k in kind if k != "null"), "string")
            if kind == "string":
                value = _string_value(prop, sub, clues, only_string and is_required)
                if value is not None:
                    clues.used.add(value)
            elif kind in ("integer", "number"):
                value = _number_value(prop, sub, clues, is_required)
            elif kind == "boolean" and is_required:
                value = sub.get("default", False)
        if value is None and "default" in sub and is_required:
            value = sub["default"]
        if value is None:
            if is_required:
                missing.append(prop)
            continue
        args[prop] = value
    return args, missing


def schema_errors(arguments: dict[str, Any], schema: dict[str, Any] | None) -> list[str]:
    """Why ``arguments`` do not fit ``schema`` (empty when they do, or the schema is unusable)."""
    if not schema:
        return []
    try:
        validator = _validator(json.dumps(schema, sort_keys=True, default=str))
        return [e.message for e in validator.iter_errors(arguments)]
    except jsonschema.SchemaError:
        return []


@functools.lru_cache(maxsize=256)
def _validator(schema_json: str) -> Any:
    return jsonschema.Draft202012Validator(json.loads(schema_json))
