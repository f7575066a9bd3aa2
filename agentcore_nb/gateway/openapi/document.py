"""Reading an OpenAPI document: size cap, YAML/JSON, which version and schema dialect, and local
JSON-pointer look-ups (every failure is one line naming the file or the pointer)."""

from __future__ import annotations

import json
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..spec import ToolSchemaError

MAX_MB_ENV = "AGENTCORE_OPENAPI_MAX_MB"
DEFAULT_MAX_MB = 8.0

# JSON Schema dialects a 3.1 document may declare in ``jsonSchemaDialect`` (or a schema in ``$schema``).
DIALECT_2020 = "2020-12"
DIALECT_DRAFT7 = "draft-07"
DIALECT_DRAFT4 = "draft-04"
DIALECT_OAS30 = "oas-3.0"
_DIALECTS = {
    "https://json-schema.org/draft/2020-12/schema": DIALECT_2020,
    "https://spec.openapis.org/oas/3.1/dialect/base": DIALECT_2020,
    "https://spec.openapis.org/oas/3.1/dialect/2024-10-25": DIALECT_2020,
    "https://spec.openapis.org/oas/3.1/dialect/2024-11-10": DIALECT_2020,
    "https://json-schema.org/draft/2019-09/schema": DIALECT_2020,
    "http://json-schema.org/draft-07/schema": DIALECT_DRAFT7,
    "http://json-schema.org/draft-06/schema": DIALECT_DRAFT7,
    "http://json-schema.org/draft-04/schema": DIALECT_DRAFT4,
    "http://json-schema.org/draft-05/schema": DIALECT_DRAFT4,  # an unofficial name for draft-04's fix-up
}


def dialect_of(uri: Any, where: str) -> str:
    """The dialect named by a ``jsonSchemaDialect`` / ``$schema`` URI (one line if unknown)."""
    key = str(uri).rstrip("#")
    if key.endswith("/"):
        key = key[:-1]
    found = (
        _DIALECTS.get(key)
        or _DIALECTS.get(key.replace("https://", "http://", 1))
        or _DIALECTS.get(key.replace("http://", "https://", 1))
    )
    if found is None:
        raise ToolSchemaError(
            f"{where} names JSON Schema dialect {uri!r}, which the gateway cannot translate",
            hint="use 2020-12, 2019-09, draft-07, draft-06 or draft-04",
        )
    return found


@dataclass(slots=True)
class Document:
    """A parsed document and what governs its schemas."""

    data: dict[str, Any]
    source: str
    version: str  # "3.0" or "3.1"
    dialect: str  # the default dialect of its schemas

    def pointer(self, ref: str, where: str) -> Any:
        """The node a local ``#/a/b`` reference names; one line naming the pointer if it cannot."""
        if not isinstance(ref, str):
            raise ToolSchemaError(f"$ref at {where} is not a string")
        if not ref.startswith("#"):
            raise ToolSchemaError(
                f"$ref {ref!r} at {where} points outside the document",
                hint="external references are not fetched: bundle the document into one file first",
            )
        node: Any = self.data
        frag = urllib.parse.unquote(ref[1:])
        if frag in ("", "/"):
            return node
        if not frag.startswith("/"):
            raise ToolSchemaError(
                f"$ref {ref!r} at {where} is not a JSON pointer (anchors are not supported)"
            )
        for raw in frag[1:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise ToolSchemaError(f"$ref {ref!r} at {where} points to nothing in the document")
        return node

    def deref(self, node: Any, where: str) -> Any:
        """A Parameter/RequestBody/Response/Header object with its own ``$ref`` chain followed."""
        seen: set[str] = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in seen:
                raise ToolSchemaError(f"$ref {ref!r} at {where} refers to itself")
            seen.add(ref)
            node = self.pointer(ref, where)
        return node


MAX_NODES = 5_000_000


def expanded_size(data: Any) -> int:
    """How many nodes the document has once YAML aliases are expanded (each shared node counted
    at every use), computed once per distinct node: an alias bomb is found without expanding it."""
    sizes: dict[int, int] = {}

    def size(node: Any) -> int:
        if not isinstance(node, dict | list):
            return 1
        key = id(node)
        found = sizes.get(key)
        if found is None:
            sizes[key] = 1  # a cycle (only from hand-built data) counts once
            children = node.values() if isinstance(node, dict) else node
            found = sizes[key] = 1 + sum(size(c) for c in children)
        return found

    try:
        return size(data)
    except RecursionError:
        return MAX_NODES + 1


def max_bytes() -> int:
    try:
        mb = float(os.environ.get(MAX_MB_ENV, DEFAULT_MAX_MB))
    except ValueError:
        mb = DEFAULT_MAX_MB
    return int(mb * 1024 * 1024)


def load_document(path: str | Path) -> Document:
    """Read and classify a document; Swagger 2.0 and anything not OpenAPI 3.x is refused."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > max_bytes():
            raise ToolSchemaError(
                f"{p} is {size / 1048576:.1f} MB, over the {max_bytes() / 1048576:g} MB limit for OpenAPI documents",
                hint=f"raise it with {MAX_MB_ENV}=N if the document is trusted",
            )
        text = p.read_text("utf-8")
    except OSError as exc:
        raise ToolSchemaError(f"cannot read {p}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ToolSchemaError(f"{p} is not UTF-8 text") from None
    return parse_document(text, str(p), json_first=p.suffix == ".json")


def parse_document(text: str, source: str, *, json_first: bool = False) -> Document:
    try:
        data = json.loads(text) if json_first else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        kind = "JSON" if json_first else "YAML"
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ToolSchemaError(f"{source} is not valid {kind}: {first}") from None
    except RecursionError:
        raise ToolSchemaError(f"{source} nests too deeply to parse") from None
    if expanded_size(data) > MAX_NODES:
        raise ToolSchemaError(
            f"{source} expands to over {MAX_NODES:,} nodes (YAML aliases repeated?); refusing to import it"
        )
    if isinstance(data, dict) and "swagger" in data:
        raise ToolSchemaError(
            f"{source} is a Swagger {data.get('swagger')} document; the gateway imports OpenAPI 3.0 and 3.1",
            hint="convert it first, e.g. `npx swagger2openapi FILE -o openapi.yaml`",
        )
    version = str(data.get("openapi", "")) if isinstance(data, dict) else ""
    if not version.startswith(("3.0", "3.1")):
        found = f" (openapi: {version})" if version else " (no 'openapi: 3.x' field)"
        raise ToolSchemaError(f"{source} is not an OpenAPI 3.0 or 3.1 document{found}")
    assert isinstance(data, dict)
    if version.startswith("3.0"):
        return Document(data, source, "3.0", DIALECT_OAS30)
    dialect = DIALECT_2020
    if "jsonSchemaDialect" in data:
        dialect = dialect_of(data["jsonSchemaDialect"], f"{source} jsonSchemaDialect")
    return Document(data, source, "3.1", dialect)
