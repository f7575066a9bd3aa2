"""Import jsonschema without its 1-second start-up tax.

jsonschema imports ``rfc3987_syntax`` (when installed, as Jupyter's dependencies do) to check the
``iri`` formats, and that module builds a Lark grammar at import: about 1 s here, on every CLI
start. We never check those formats, so the first import of jsonschema is done with that module
hidden; anyone importing ``rfc3987_syntax`` later still gets it.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any


def load() -> ModuleType:
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]
        try:
            import jsonschema
        finally:
            del sys.modules["rfc3987_syntax"]
        return jsonschema
    import jsonschema

    return jsonschema


jsonschema = load()


def inline_refs(schema: dict[str, Any], depth: int = 3) -> dict[str, Any]:
    """The schema with its ``#/$defs/...`` references inlined, a recursive type expanded at most
    ``depth`` times on any path (below that: any object, described as such). For tool formats
    that do not take ``$ref``; the gateway still validates calls against the full schema."""
    defs = schema.get("$defs", {}) if isinstance(schema, dict) else {}

    def walk(node: Any, path: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [walk(v, path) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref[len("#/$defs/") :]
            rest = {k: walk(v, path) for k, v in node.items() if k != "$ref"}
            if path.count(name) >= depth:
                return {**rest, "type": "object", "description": f"a {name} (nested deeper than shown)"}
            inner = walk(defs.get(name, {}), (*path, name))
            return {**inner, **rest} if isinstance(inner, dict) else inner
        return {k: walk(v, path) for k, v in node.items() if k != "$defs"}

    return walk(schema, ())  # type: ignore[no-any-return]
