"""OpenAPI schemas -> JSON Schema 2020-12 tool schemas.

Every referenced schema becomes an entry of the tool schema's ``$defs`` and every ``$ref`` points
there (``#/$defs/Name``), so recursive types (trees, threads, linked lists) stay finite and valid.
The OpenAPI 3.0 dialect (and draft-04/07 named by a 3.1 ``jsonSchemaDialect``) is translated:
boolean ``exclusiveMaximum``/``exclusiveMinimum``, ``nullable``, ``example``, ``readOnly`` properties
dropped from requests and ``writeOnly`` ones from responses, ``discriminator`` kept as a hint.
"""

from __future__ import annotations

import copy
import re
import warnings
from typing import Any

from ..._jsonschema import inline_refs  # noqa: F401  (re-exported)
from .document import DIALECT_2020, DIALECT_OAS30, Document, dialect_of

REQUEST, RESPONSE = "request", "response"
_TYPES = {"string", "number", "integer", "boolean", "object", "array", "null"}
_DROP = {"xml", "externalDocs", "id", "$id", "$schema", "$anchor", "$dynamicAnchor", "$comment"}
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_ONE = ("additionalProperties", "unevaluatedProperties", "unevaluatedItems", "not", "if", "then",
               "else", "contains", "propertyNames", "contentSchema", "additionalItems")  # fmt: skip
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
BUDGET = 2_000_000  # schema nodes translated per document: a bound on alias bombs and giants


class SchemaBook:
    """The document's schemas translated once per direction, named for ``$defs``."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.names: dict[str, str] = {}  # pointer -> $defs name (shared by both directions)
        self.refs: dict[str, str] = {}  # $defs name -> pointer
        self.taken: set[str] = set()
        self.done: dict[tuple[str, str], Any] = {}  # (pointer, direction) -> translated schema
        self.deps: dict[tuple[str, str], set[str]] = {}
        self.work = 0

    # --------------------------------------------------------------------- naming and closure
    def name(self, ref: str) -> str:
        found = self.names.get(ref)
        if found is None:
            m = re.fullmatch(r"#/components/schemas/([^/]+)", ref)
            base = m.group(1) if m else ref.lstrip("#/")
            base = re.sub(r"[^A-Za-z0-9_.-]+", "_", base.replace("~1", "/").replace("~0", "~")) or "schema"
            found, n = base, 1
            while found in self.taken:
                n += 1
                found = f"{base}_{n}"
            self.taken.add(found)
            self.names[ref] = found
            self.refs[found] = ref
        return found

    def definition(self, ref: str, direction: str, where: str) -> None:
        """Translate the schema ``ref`` names (once), following its own references."""
        key = (ref, direction)
        if key in self.done:
            return
        self.name(ref)
        self.done[key] = {}  # placeholder: a reference back to ``ref`` from inside it ends here
        deps: set[str] = set()
        self.deps[key] = deps
        target = self.doc.pointer(ref, where)
        self.done[key] = self._tr(target, ref, direction, self._dialect_at(ref), deps)

    def _dialect_at(self, ref: str) -> str:
        return self.doc.dialect

    def named(self, schema: Any, direction: str) -> Any:
        """A schema that is only a ``$ref`` (and a description) -> the definition it names."""
        if isinstance(schema, dict) and "$ref" in schema and set(schema) <= {"$ref", "description"}:
            ref = self.refs.get(str(schema["$ref"]).removeprefix("#/$defs/"))
            if ref is not None:
                return self.done.get((ref, direction), schema)
        return schema

    def closure(self, refs: set[str], direction: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        todo = list(refs)
        while todo:
            ref = todo.pop()
            name = self.names[ref]
            if name in out:
                continue
            out[name] = self.done[(ref, direction)]
            todo.extend(self.deps[(ref, direction)])
        return dict(sorted(out.items()))

    # --------------------------------------------------------------------- one schema
    def schema(self, node: Any, where: str, direction: str) -> tuple[Any, set[str]]:
        """(translated schema, pointers it references) for a schema found at ``where``."""
        deps: set[str] = set()
        return self._tr(node, where, direction, self.doc.dialect, deps), deps

    def flag(self, node: Any, key: str) -> bool:
        """Whether a (possibly referenced) schema is marked ``readOnly``/``writeOnly``."""
        seen = 0
        while isinstance(node, dict) and "$ref" in node and key not in node and seen < 20:
            try:
                node = self.doc.pointer(node["$ref"], "")
            except Exception:
                return False
            seen += 1
        return isinstance(node, dict) and node.get(key) is True

    def _tr(self, node: Any, where: str, direction: str, dialect: str, deps: set[str]) -> Any:
        self.work += 1
        if self.work > BUDGET:
            from ..spec import ToolSchemaError

            raise ToolSchemaError(f"{self.doc.source} has too many schema nodes to import (over {BUDGET:,})")
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            return {}
        if "$schema" in node:
            dialect = dialect_of(node["$schema"], f"$schema at {where}")
        legacy = dialect != DIALECT_2020
        if "$ref" in node:
            ref = node["$ref"]
            self.definition(ref, direction, where)
            deps.add(ref)
            out_ref: dict[str, Any] = {"$ref": f"#/$defs/{self.names[ref]}"}
            if legacy:  # 3.0 / draft-04 / draft-07: siblings of $ref are ignored by the spec
                if dialect == DIALECT_OAS30 and node.get("nullable") is True:
                    return {"anyOf": [out_ref, {"type": "null"}]}
                if isinstance(node.get("description"), str):
                    out_ref["description"] = node["description"]
                return out_ref
            rest = {k: v for k, v in node.items() if k != "$ref"}
            if not rest:
                return out_ref
            return {**out_ref, **self._tr(rest, where, direction, dialect, deps)}
        out: dict[str, Any] = {}
        sub = lambda v, w: self._tr(v, f"{where}/{w}", direction, dialect, deps)  # noqa: E731
        for key, value in node.items():
            if key.startswith("x-") or key in _DROP:
                continue
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                target = "$defs" if key == "definitions" else key
                props = {}
                for pname, pschema in value.items():
                    if key == "properties" and self._hidden(pschema, direction):
                        continue
                    props[pname] = sub(pschema, f"{key}/{pname}")
                out[target] = props
            elif key in _SCHEMA_ONE:
                if key == "additionalItems":
                    if legacy and isinstance(node.get("items"), list):
                        out["items"] = sub(value, key)
                    continue
                out[key] = sub(value, key)
            elif key in _SCHEMA_LISTS and isinstance(value, list):
                out[key] = [sub(v, f"{key}/{i}") for i, v in enumerate(value)]
            elif key == "items":
                if isinstance(value, list):
                    out["prefixItems"] = [sub(v, f"items/{i}") for i, v in enumerate(value)]
                else:
                    out["items"] = sub(value, key)
            elif key == "dependencies" and isinstance(value, dict):
                for dep, what in value.items():
                    if isinstance(what, list):
                        out.setdefault("dependentRequired", {})[dep] = what
                    else:
                        out.setdefault("dependentSchemas", {})[dep] = sub(what, f"dependencies/{dep}")
            elif key == "type":
                kept = _types(value)
                if kept is not None:
                    out["type"] = kept
            elif key == "required":
                if isinstance(value, list):
                    out["required"] = [r for r in value if isinstance(r, str)]
            elif key == "pattern":
                if isinstance(value, str) and _regex_ok(value):
                    out["pattern"] = value
            elif key == "example":
                if dialect in (DIALECT_OAS30, DIALECT_2020):
                    out.setdefault("examples", [value])
            elif key == "examples":
                if isinstance(value, list):
                    out["examples"] = value
            elif key == "discriminator" and isinstance(value, dict):
                out["discriminator"] = self._discriminator(value, where, direction, deps)
            elif key in ("exclusiveMaximum", "exclusiveMinimum") and isinstance(value, bool):
                bound = "maximum" if key == "exclusiveMaximum" else "minimum"
                if value and isinstance(node.get(bound), int | float):
                    out[key] = node[bound]
            elif key in ("maximum", "minimum"):
                if node.get(f"exclusive{key.capitalize()}") is True:
                    continue
                if isinstance(value, int | float) and not isinstance(value, bool):
                    out[key] = value
            elif key == "nullable":
                continue
            elif key == "enum":
                if isinstance(value, list):
                    out["enum"] = list(value)
            elif key in ("readOnly", "writeOnly", "deprecated"):
                if isinstance(value, bool):
                    out[key] = value
            else:
                out[key] = copy.deepcopy(value) if isinstance(value, dict | list) else value
        if "required" in out and "properties" in out:
            hidden = [p for p in node.get("properties", {}) if p not in out["properties"]]
            out["required"] = [r for r in out["required"] if r not in hidden]
            if not out["required"]:
                del out["required"]
        if node.get("nullable") is True and dialect == DIALECT_OAS30:
            _nullable(out)
        if node.get("type") == "file":
            out.update({"type": "string", "format": "binary"})
        return out

    def _hidden(self, prop: Any, direction: str) -> bool:
        return self.flag(prop, "readOnly" if direction == REQUEST else "writeOnly")

    def _discriminator(self, value: dict[str, Any], where: str, direction: str, deps: set[str]) -> Any:
        """Kept as a hint; mapping targets that are references point into ``$defs``."""
        out: dict[str, Any] = {"propertyName": value.get("propertyName")}
        mapping = value.get("mapping")
        if isinstance(mapping, dict):
            out["mapping"] = {}
            for key, target in mapping.items():
                if isinstance(target, str) and target.startswith("#"):
                    self.definition(target, direction, f"{where}/discriminator")
                    deps.add(target)
                    target = f"#/$defs/{self.names[target]}"
                out["mapping"][key] = target
        return out


def _types(value: Any) -> Any:
    if value == "file":
        return "string"
    if isinstance(value, str):
        return value if value in _TYPES else None
    if isinstance(value, list):
        kept = [v for v in value if v in _TYPES]
        return kept or None
    return None


def _nullable(out: dict[str, Any]) -> None:
    t = out.get("type")
    if isinstance(t, str):
        out["type"] = [t, "null"]
    elif isinstance(t, list) and "null" not in t:
        out["type"] = [*t, "null"]
    if isinstance(out.get("enum"), list) and None not in out["enum"]:
        out["enum"].append(None)
    if "type" not in out and any(k in out for k in ("allOf", "anyOf", "oneOf")):
        inner = {k: out.pop(k) for k in ("allOf", "anyOf", "oneOf") if k in out}
        out["anyOf"] = [inner, {"type": "null"}]


_REGEX_CACHE: dict[str, bool] = {}


def _regex_ok(pattern: str) -> bool:
    """Patterns Python cannot compile (some ECMA-only syntax) are dropped rather than refused."""
    ok = _REGEX_CACHE.get(pattern)
    if ok is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                re.compile(pattern)
            ok = True
        except (re.error, RecursionError, OverflowError):
            ok = False
        _REGEX_CACHE[pattern] = ok
    return ok


def with_defs(root: Any, defs: dict[str, Any]) -> Any:
    if not defs or not isinstance(root, dict):
        return root
    return {**root, "$defs": {**defs, **root.get("$defs", {})}}
