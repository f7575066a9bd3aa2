"""Tool definitions (MCP-shaped), their validation, and the errors every call can end in."""

from __future__ import annotations

import functools
import inspect
import json
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from .._jsonschema import jsonschema
from ..errors import AgentcoreError

NAME_RE = re.compile(r"^[A-Za-z0-9_\-.]{1,64}$")


class ToolError(AgentcoreError):
    """A tool call failed; the message is one line an agent (or a person) can act on."""


class UnknownToolError(ToolError):
    pass


class ToolInputError(ToolError):
    pass


class ToolOutputError(ToolError):
    pass


class ToolTargetError(ToolError):
    pass


class ToolTimeoutError(ToolError):
    pass


class ToolSchemaError(ToolError):
    """A tool definition was refused at registration."""


@dataclass(slots=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    target: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    timeout: float = 30.0
    created: float = 0.0
    updated: float = 0.0

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_mcp(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
        }
        if self.output_schema is not None:
            out["outputSchema"] = self.output_schema
        return out

    def to_dict(self) -> dict[str, Any]:
        return {**self.to_mcp(), "version": self.version, "target": self.target, "timeout": self.timeout,
                "created": self.created, "updated": self.updated}  # fmt: skip


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ToolSchemaError(
            f"invalid tool name {name!r}", hint="use 1-64 letters, digits, '_', '-' or '.' (MCP tool names)"
        )
    return name


def check_schema(schema: Any, what: str) -> dict[str, Any]:
    """A JSON Schema an agent can fill: an object schema that is itself valid."""
    if not isinstance(schema, dict):
        raise ToolSchemaError(f"{what} must be a JSON object (a JSON Schema), got {type(schema).__name__}")
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise ToolSchemaError(f"{what} is not a valid JSON Schema at {where}: {exc.message}") from None
    if what == "inputSchema" and schema.get("type", "object") != "object":
        raise ToolSchemaError('inputSchema must describe an object ("type": "object")')
    return schema


class Validator:
    """A compiled check (fastjsonschema, about 10x quicker) in front of jsonschema, which alone
    words the error; schemas fastjsonschema cannot compile use jsonschema for both."""

    __slots__ = ("fast", "full")

    def __init__(self, schema: dict[str, Any]) -> None:
        self.full = jsonschema.Draft202012Validator(schema)
        try:
            import fastjsonschema

            self.fast: Any = fastjsonschema.compile(schema)
        except Exception:
            self.fast = None

    def is_valid(self, value: Any) -> bool:
        if self.fast is not None:
            try:
                self.fast(value)
                return True
            except Exception:
                return False
        return bool(self.full.is_valid(value))


@functools.lru_cache(maxsize=1024)
def _validator(schema_json: str) -> Validator:
    return Validator(json.loads(schema_json))


def validator_for(schema: dict[str, Any]) -> Validator:
    return _validator(json.dumps(schema, sort_keys=True))


def validation_error(validator: Validator, value: Any, root: str) -> str | None:
    """``input.order_id: 1234 is not of type 'string'`` for the first (deepest-path) error, or None."""
    if validator.is_valid(value):
        return None
    errors = list(validator.full.iter_errors(value))
    if not errors:
        return None
    err = max(errors, key=lambda e: len(e.absolute_path))
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
    return f"{root}{path}: {err.message}"


# ---------------------------------------------------------------------------- from Python functions

_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object", list: "array"}


def _type_schema(tp: Any) -> dict[str, Any]:
    if tp is inspect.Parameter.empty or tp is Any:
        return {}
    if tp in _SIMPLE:
        return {"type": _SIMPLE[tp]}
    if tp is type(None):
        return {"type": "null"}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_type_schema(a) for a in args]}
    if origin in (list, tuple, set, frozenset):
        return {"type": "array", **({"items": _type_schema(args[0])} if args else {})}
    if origin is dict:
        return {"type": "object"}
    return {}


def _param_docs(doc: str) -> dict[str, str]:
    """``:param x: text`` and Google-style ``Args:`` sections."""
    found = dict(re.findall(r":param\s+(\w+):\s*(.+)", doc))
    section = re.search(r"(?:Args|Arguments|Parameters):\s*\n((?:[ \t]+.+\n?)+)", doc)
    if section:
        for name, text in re.findall(r"^\s+(\w+)(?:\s*\([^)]*\))?:\s*(.+)$", section.group(1), re.M):
            found.setdefault(name, text.strip())
    return found


def schema_from_function(fn: Any) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """(description, inputSchema, outputSchema) from a function's signature, hints and docstring."""
    doc = inspect.getdoc(fn) or ""
    description = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        hints = {}
    docs = _param_docs(doc)
    props: dict[str, Any] = {}
    required: list[str] = []
    for name, param in inspect.signature(fn).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or name in ("ctx", "self"):
            continue
        prop = _type_schema(hints.get(name, param.annotation))
        if name in docs:
            prop["description"] = docs[name]
        if param.default is param.empty:
            required.append(name)
        elif param.default is None or isinstance(param.default, str | int | float | bool):
            prop["default"] = param.default
        props[name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = required
    ret = hints.get("return")
    output = _type_schema(ret) if ret not in (None, inspect.Parameter.empty) else None
    return description, schema, output or None


def schema_changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[bool, list[str]]:
    """(breaking, what changed) between two input schemas, for a re-registration report."""
    changes: list[str] = []
    breaking = False
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_req, new_req = set(old.get("required", [])), set(new.get("required", []))
    for name in sorted(set(old_props) - set(new_props)):
        changes.append(f"removed input '{name}'")
        breaking = True
    for name in sorted(set(new_props) - set(old_props)):
        req = name in new_req
        changes.append(f"added {'required' if req else 'optional'} input '{name}'")
        breaking |= req
    for name in sorted(set(old_props) & set(new_props)):
        if old_props[name].get("type") != new_props[name].get("type"):
            changes.append(
                f"input '{name}' type {old_props[name].get('type')} -> {new_props[name].get('type')}"
            )
            breaking = True
        elif name in new_req and name not in old_req:
            changes.append(f"input '{name}' is now required")
            breaking = True
    if not changes and old != new:
        changes.append("schema details changed")
    return breaking, changes
