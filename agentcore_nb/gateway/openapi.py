"""An OpenAPI 3 document -> one tool per operation (parameters and body folded into one input schema)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from .spec import ToolSchemaError

_METHODS = ("get", "post", "put", "patch", "delete")


def load_document(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except OSError as exc:
        raise ToolSchemaError(f"cannot read {p}: {exc.strerror}") from None
    try:
        doc = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ToolSchemaError(
            f"{p} is not valid {'JSON' if p.suffix == '.json' else 'YAML'}: {str(exc).splitlines()[0]}"
        ) from None
    if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3"):
        raise ToolSchemaError(f"{p} is not an OpenAPI 3 document (no 'openapi: 3.x' field)")
    return doc


def _resolve(doc: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """Inline local ``$ref``s (``#/components/...``)."""
    if depth > 20:
        raise ToolSchemaError("OpenAPI $ref nesting is too deep (a cycle?)")
    if isinstance(node, dict):
        if "$ref" in node and isinstance(node["$ref"], str) and node["$ref"].startswith("#/"):
            target: Any = doc
            for part in node["$ref"][2:].split("/"):
                if not isinstance(target, dict) or part not in target:
                    raise ToolSchemaError(f"OpenAPI $ref {node['$ref']} points nowhere")
                target = target[part]
            return _resolve(doc, target, depth + 1)
        return {k: _resolve(doc, v, depth) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(doc, v, depth) for v in node]
    return node


def _auth(doc: dict[str, Any], op: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any] | None:
    requirements = op.get("security", doc.get("security")) or []
    schemes = doc.get("components", {}).get("securitySchemes", {})
    for req in requirements:
        for name in req:
            scheme = schemes.get(name, {})
            env = secrets.get(name) or re.sub(r"[^A-Z0-9]", "_", name.upper())
            if scheme.get("type") == "http" and scheme.get("scheme", "").lower() == "bearer":
                return {"type": "bearer", "secret": env}
            if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                return {"type": "apiKey", "name": scheme.get("name", "X-API-Key"), "secret": env}
    return None


def operations(doc: dict[str, Any], *, base_url: str | None = None,
               secrets: dict[str, str] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Tool definitions (``name``, ``description``, ``inputSchema``, ``outputSchema``, ``target``)."""
    servers = doc.get("servers") or [{}]
    base = base_url or servers[0].get("url")
    if not base:
        raise ToolSchemaError("the OpenAPI document has no servers[0].url", hint="pass a base URL")
    tools = []
    for path, item in (doc.get("paths") or {}).items():
        for method in _METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            op = _resolve(doc, op)
            name = op.get("operationId") or re.sub(r"[^A-Za-z0-9_]+", "_", f"{method}_{path}").strip("_")
            props: dict[str, Any] = {}
            required: list[str] = []
            params: dict[str, str] = {}
            for param in [*_resolve(doc, item.get("parameters", [])), *op.get("parameters", [])]:
                if param.get("in") not in ("path", "query", "header"):
                    continue
                props[param["name"]] = dict(param.get("schema", {}), **(
                    {"description": param["description"]} if param.get("description") else {}))  # fmt: skip
                params[param["name"]] = param["in"]
                if param.get("required") or param.get("in") == "path":
                    required.append(param["name"])
            body_mode: str | None = None
            content = (op.get("requestBody") or {}).get("content", {})
            body_schema = (content.get("application/json") or {}).get("schema")
            if body_schema is not None:
                if body_schema.get("type") == "object" and not set(body_schema.get("properties", {})) & set(
                    props
                ):
                    props.update(body_schema.get("properties", {}))
                    required += body_schema.get("required", [])
                    body_mode = "merged"
                else:
                    props["body"] = body_schema
                    body_mode = "body"
                    if (op.get("requestBody") or {}).get("required"):
                        required.append("body")
            ok: dict[str, Any] = next(
                (r for code, r in (op.get("responses") or {}).items() if str(code).startswith("2")), {}
            )
            out_schema = ((ok.get("content") or {}).get("application/json") or {}).get("schema")
            schema: dict[str, Any] = {"type": "object", "properties": props}
            if required:
                schema["required"] = sorted(set(required), key=required.index)
            tools.append({
                "name": name,
                "description": op.get("description") or op.get("summary") or f"{method.upper()} {path}",
                "inputSchema": schema,
                "outputSchema": out_schema,
                "target": {"type": "openapi", "base_url": base, "method": method, "path": path,
                           "params": params, "body": body_mode, "auth": _auth(doc, op, secrets or {})},
            })  # fmt: skip
    if not tools:
        raise ToolSchemaError("the OpenAPI document has no operations under 'paths'")
    return tools
