"""OpenAPI 3.0/3.1 documents -> gateway tools, one per operation (see ``docs/gateway.md``).

``document`` reads and classifies, ``schema`` translates schemas to JSON Schema 2020-12 with
``$defs``, ``operation`` plans each tool's input and request, ``request`` builds the HTTP request
from arguments, ``call`` sends it and reads the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..._jsonschema import jsonschema
from ..spec import ToolSchemaError, check_name
from .document import Document, load_document, parse_document
from .operation import METHODS, OperationBuilder, OperationRefused
from .schema import inline_refs

__all__ = [
    "Document",
    "Import",
    "import_document",
    "inline_refs",
    "load_document",
    "operations",
    "parse_document",
]


@dataclass(slots=True)
class Import:
    """The tools a document gives, and the operations refused (``(label, one-line reason)``)."""

    tools: list[dict[str, Any]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


def import_document(doc: Document | str | Path, *, base_url: str | None = None,
                    secrets: dict[str, str] | None = None, strict: bool = False) -> Import:  # fmt: skip
    """Every operation of the document as a tool definition. Document-level faults (a ``$ref`` to
    nothing, no usable server URL, ...) raise; an operation whose request cannot be built is
    refused (listed in ``refused``; with ``strict`` it raises instead)."""
    if not isinstance(doc, Document):
        doc = load_document(doc)
    builder = OperationBuilder(doc, base_url=base_url, secrets=secrets or {})
    out = Import()
    paths = doc.data.get("paths") or {}
    if not isinstance(paths, dict):
        raise ToolSchemaError(f"{doc.source}: 'paths' must be an object")
    for path, raw_item in paths.items():
        item = doc.deref(raw_item, f"paths/{path}")
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            try:
                out.tools.append(builder.build(str(path), method, item, op))
            except RecursionError:
                raise ToolSchemaError(
                    f"{doc.source}: {method.upper()} {path} nests schemas too deeply"
                ) from None
            except OperationRefused as exc:
                if strict:
                    raise
                out.refused.append((f"{method.upper()} {path}", str(exc)))
    if not out.tools:
        why = f": {out.refused[0][1]}" if out.refused else ""
        raise ToolSchemaError(f"{doc.source} has no operation the gateway can call{why}")
    return out


def operations(doc: Document | dict[str, Any], *, base_url: str | None = None,
               secrets: dict[str, str] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Tool definitions of a document (refused operations left out)."""
    if isinstance(doc, dict):
        version = str(doc.get("openapi", ""))
        doc = Document(doc, "document", "3.1" if version.startswith("3.1") else "3.0",
                       "2020-12" if version.startswith("3.1") else "oas-3.0")  # fmt: skip
    return import_document(doc, base_url=base_url, secrets=secrets).tools


_META: Any = None


def _meta_check(schema: Any, what: str) -> None:
    """The draft-07 metaschema, compiled (75x quicker than jsonschema's 2020-12 check on real
    documents). The keywords the translator emits mean the same in both drafts, except ``$defs``,
    ``prefixItems`` and ``dependent*``, which it builds itself (each definition is checked apart)."""
    global _META
    if _META is None:
        import fastjsonschema

        _META = fastjsonschema.compile(jsonschema.Draft7Validator.META_SCHEMA, use_default=False)
    try:
        _META(schema)
    except Exception as exc:
        message = str(getattr(exc, "message", exc)).replace("data", what, 1)
        raise ToolSchemaError(f"{what} is not a valid JSON Schema: {message}") from None


def check_tools(tools: list[dict[str, Any]]) -> None:
    """Every tool's schemas are valid JSON Schema (one line naming the operation if not). A
    ``$defs`` entry shared by many tools is checked once: the metaschema does not follow
    ``$ref``, so checking the root without ``$defs`` and each definition apart is the same check."""
    seen: set[int] = set()
    for tool in tools:
        label = f"{tool['target']['method'].upper()} {tool['target']['path']}"
        try:
            check_name(tool["name"])
            for key in ("inputSchema", "outputSchema"):
                schema = tool.get(key)
                if not isinstance(schema, dict):
                    continue
                _meta_check({k: v for k, v in schema.items() if k != "$defs"}, key)
                for name, definition in (schema.get("$defs") or {}).items():
                    if id(definition) not in seen:
                        seen.add(id(definition))
                        _meta_check(definition, f"{key}.$defs.{name}")
        except ToolSchemaError as exc:
            raise ToolSchemaError(f"{label}: {exc}") from None
