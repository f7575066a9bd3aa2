"""One OpenAPI operation -> one tool: its input schema (parameters and body side by side), its
output schema (the success responses), and the plan ``request.py`` follows to put every argument
on the wire. An operation whose request cannot be built from its input is refused here, at
registration, with one line (never at call time by sending less than it was given).

Name rule: a parameter keeps its name; a second parameter of the same name in another location
becomes ``NAME_LOCATION`` (``id_header``). An object body's properties sit beside the parameters
when none of them is taken; otherwise (or when the body is not a plain object) the whole body is
one argument named ``body`` (``body_`` if a parameter is called ``body``).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from ..spec import NAME_RE, ToolSchemaError
from .document import Document
from .media import (
    BINARY,
    FILE_REF_SCHEMA,
    FILE_SCHEMA,
    FORM,
    JSON,
    MULTIPART,
    TEXT,
    body_kind,
    essence,
    is_json,
    is_texty,
)
from .media import preference as media_preference
from .schema import REQUEST, RESPONSE, SchemaBook, with_defs

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_STYLES = {
    "path": ("simple", {"simple", "label", "matrix"}),
    "query": ("form", {"form", "spaceDelimited", "pipeDelimited", "deepObject"}),
    "header": ("simple", {"simple"}),
    "cookie": ("form", {"form"}),
}
_LOCATION_ORDER = {"path": 0, "query": 1, "header": 2, "cookie": 3}
_IGNORED_HEADERS = {"accept", "content-type", "authorization"}
# A body schema with only these keywords can lend its properties to the input schema's top level.
_FLAT_OK = {"type", "properties", "required", "additionalProperties", "description", "title", "examples",
            "deprecated", "default", "readOnly", "writeOnly", "discriminator"}  # fmt: skip


class OperationRefused(ToolSchemaError):
    """This operation cannot become a tool; the rest of the document may."""


def tool_name(raw: str, taken: set[str]) -> str:
    name = re.sub(r"[^A-Za-z0-9_\-.]+", "_", raw).strip("_") or "operation"
    if len(name) > 64:
        name = f"{name[:55]}_{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    base, n = name, 1
    while name in taken:
        n += 1
        name = f"{base[:60]}_{n}"
    assert NAME_RE.match(name)
    taken.add(name)
    return name


def server_url(doc: Document, item: dict[str, Any], op: dict[str, Any], base_url: str | None) -> str:
    if base_url:
        return base_url
    servers = op.get("servers") or item.get("servers") or doc.data.get("servers") or [{}]
    server = servers[0] if isinstance(servers[0], dict) else {}
    url = str(server.get("url") or "")
    for var, spec in (server.get("variables") or {}).items():
        url = url.replace("{" + var + "}", str((spec or {}).get("default", "")))
    if not url.startswith(("http://", "https://")):
        what = f"a relative server URL {url!r}" if url else "no servers[0].url"
        raise ToolSchemaError(f"{doc.source} has {what}", hint="pass a base URL (--base-url / base_url=)")
    return url


def security(doc: Document, op: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any] | None:
    """The first security requirement the gateway can satisfy, by secret *name* (never a value)."""
    requirements = op.get("security", doc.data.get("security")) or []
    schemes = (doc.data.get("components") or {}).get("securitySchemes") or {}
    for req in requirements:
        if not isinstance(req, dict):
            continue
        for name in req:
            scheme = doc.deref(schemes.get(name, {}), f"securitySchemes/{name}")
            env = secrets.get(name) or re.sub(r"[^A-Z0-9]", "_", name.upper())
            kind, scheme_name = scheme.get("type"), str(scheme.get("scheme", "")).lower()
            if (kind == "http" and scheme_name == "bearer") or kind in ("oauth2", "openIdConnect"):
                return {"type": "bearer", "secret": env}
            if kind == "http" and scheme_name == "basic":
                return {"type": "basic", "secret": env}
            if kind == "apiKey" and scheme.get("in") in ("header", "query", "cookie"):
                return {"type": "apiKey", "in": scheme["in"], "name": scheme.get("name", "X-API-Key"),
                        "secret": env}  # fmt: skip
    return None


class OperationBuilder:
    """Builds the tool definitions of one document, sharing one :class:`SchemaBook`."""

    def __init__(self, doc: Document, *, base_url: str | None, secrets: dict[str, str]) -> None:
        self.doc = doc
        self.book = SchemaBook(doc)
        self.base_url = base_url
        self.secrets = secrets
        self.names: set[str] = set()

    def build(self, path: str, method: str, item: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
        where = f"paths/{path}/{method}"
        label = f"{method.upper()} {path}"
        req_deps: set[str] = set()
        props: dict[str, Any] = {}
        required: list[str] = []
        params = self._parameters(item, op, where, label, req_deps, props, required)
        for var in re.findall(r"{([^}]+)}", path):
            if not any(p["in"] == "path" and p["name"] == var for p in params):
                raise OperationRefused(f"{label}: the path has {{{var}}} but no path parameter names it")
        body = self._body(op, where, label, req_deps, props, required, {p["arg"] for p in params})
        input_schema: dict[str, Any] = {"type": "object", "properties": props}
        if required:
            input_schema["required"] = list(dict.fromkeys(required))
        if body is None or body.get("arg"):
            input_schema["additionalProperties"] = False
        elif body.get("additional") is not None:
            input_schema["additionalProperties"] = body.pop("additional")
        body and body.pop("additional", None)
        input_schema = with_defs(input_schema, self.book.closure(req_deps, REQUEST))
        responses, output, accept = self._responses(op, where)
        # a "#fragment" in a path (APIs.guru's AWS documents) never goes on the wire: it is dropped
        name = tool_name(str(op.get("operationId") or f"{method}_{path}"), self.names)
        description = str(op.get("description") or op.get("summary") or label).strip()[:2000]
        return {
            "name": name,
            "description": description,
            "inputSchema": input_schema,
            "outputSchema": output,
            "target": {"type": "openapi", "base_url": server_url(self.doc, item, op, self.base_url),
                       "method": method, "path": path.split("#", 1)[0], "params": params, "body": body,
                       "responses": responses, "accept": accept,
                       "auth": security(self.doc, op, self.secrets)},
        }  # fmt: skip

    # ------------------------------------------------------------------ parameters
    def _parameters(self, item: dict[str, Any], op: dict[str, Any], where: str, label: str,
                    deps: set[str], props: dict[str, Any], required: list[str]) -> list[dict[str, Any]]:  # fmt: skip
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for level, plist in (("", item.get("parameters")), ("", op.get("parameters"))):
            for i, raw in enumerate(plist or []):
                p = self.doc.deref(raw, f"{where}/parameters/{i}{level}")
                if not isinstance(p, dict) or not isinstance(p.get("name"), str):
                    raise OperationRefused(f"{label}: parameter {i} has no name")
                merged[(p["name"], str(p.get("in")))] = p
        plans: list[dict[str, Any]] = []
        ordered = sorted(merged.values(), key=lambda p: _LOCATION_ORDER.get(str(p.get("in")), 9))
        taken: set[str] = set()
        for p in ordered:
            loc, name = p.get("in"), p["name"]
            if loc in ("body", "formData"):
                raise OperationRefused(
                    f"{label}: parameter {name!r} is 'in: {loc}' (Swagger 2.0), which OpenAPI 3 replaced "
                    "with requestBody",
                    hint="move it into the operation's requestBody",
                )
            if loc not in _STYLES:
                raise OperationRefused(f"{label}: parameter {name!r} has unknown location 'in: {loc}'")
            if loc == "header" and name.lower() in _IGNORED_HEADERS:
                continue  # OpenAPI: these header parameters are ignored (set by the gateway)
            default_style, allowed = _STYLES[loc]
            style = p.get("style", default_style)
            if style not in allowed:
                raise OperationRefused(f"{label}: parameter {name!r} in {loc} cannot use style {style!r}")
            raw_schema, as_json = p.get("schema"), False
            if raw_schema is None and isinstance(p.get("content"), dict) and p["content"]:
                media, mt = next(iter(p["content"].items()))
                raw_schema, as_json = (mt or {}).get("schema"), is_json(media)
            schema, sdeps = self.book.schema(raw_schema if raw_schema is not None else {},
                                             f"{where}/parameters/{name}", REQUEST)  # fmt: skip
            deps |= sdeps
            if isinstance(schema, dict) and p.get("description") and "description" not in schema:
                schema = {**schema, "description": str(p["description"])}
            arg = name if name not in taken else f"{name}_{loc}"
            taken.add(arg)
            props[arg] = schema
            if p.get("required") or loc == "path":
                required.append(arg)
            plans.append({"arg": arg, "name": name, "in": loc, "style": style,
                          "explode": bool(p.get("explode", style == "form")),
                          "allowReserved": bool(p.get("allowReserved")), "json": as_json})  # fmt: skip
        return plans

    # ------------------------------------------------------------------ the body
    def _body(self, op: dict[str, Any], where: str, label: str, deps: set[str], props: dict[str, Any],
              required: list[str], param_args: set[str]) -> dict[str, Any] | None:  # fmt: skip
        if op.get("requestBody") is None:
            return None
        rb = self.doc.deref(op["requestBody"], f"{where}/requestBody")
        content = rb.get("content") or {}
        if not isinstance(content, dict) or not content:
            return None
        options = []
        for media, mt in content.items():
            mt = mt if isinstance(mt, dict) else {}
            raw = (
                self.doc.deref(mt.get("schema"), f"{where}/requestBody/{media}") if mt.get("schema") else None
            )
            kind = body_kind(media, raw)
            if kind is not None:
                options.append((media_preference(kind), media, kind, mt))
        if not options:
            raise OperationRefused(
                f"{label}: the request body can only be sent as {', '.join(content)}, which the gateway "
                "cannot build from arguments",
                hint="supported: JSON, form-urlencoded, multipart/form-data, text, octet-stream",
            )
        # JSON first (plain application/json before its variants), then form, multipart, text, bytes
        options.sort(key=lambda o: (o[0], essence(o[1]) != "application/json"))
        # bodies of different kinds (JSON and form, say) must agree; among one kind's variants
        # (application/json and application/ld+json, versioned types) the first is the one sent
        firsts = {o[2]: o for o in reversed(options)}
        structured = sorted(
            (o for k, o in firsts.items() if k in (JSON, FORM, MULTIPART)), key=lambda o: o[0]
        )
        if (
            len(structured) > 1
            and len({json.dumps(o[3].get("schema"), sort_keys=True) for o in structured}) > 1
        ):
            kinds = " and ".join(o[1] for o in structured[:2])
            raise OperationRefused(f"{label}: request bodies {kinds} have conflicting schemas",
                                   hint="give them one schema, or keep one media type")  # fmt: skip
        _, media, kind, mt = options[0]
        is_required = bool(rb.get("required"))
        plan: dict[str, Any] = {"media": media, "kind": kind, "arg": None, "required": is_required}
        body_arg = "body" if "body" not in param_args else "body_"
        if kind in (TEXT, BINARY):
            plan["arg"] = body_arg
            props[body_arg] = (
                {"type": "string", "description": f"The request body ({media})"}
                if kind == TEXT
                else FILE_SCHEMA
            )
            if is_required:
                required.append(body_arg)
            return plan
        schema, sdeps = self.book.schema(mt.get("schema") if mt.get("schema") is not None else {},
                                         f"{where}/requestBody", REQUEST)  # fmt: skip
        deps |= sdeps
        top = self._top(schema)
        flat = isinstance(top, dict) and isinstance(top.get("properties"), dict) and \
            top.get("type", "object") == "object" and set(top) <= _FLAT_OK  # fmt: skip
        if kind in (FORM, MULTIPART):
            if not flat and not (isinstance(top, dict) and top.get("type") == "object"):
                raise OperationRefused(f"{label}: a {media} body must be an object schema with properties")
            plan["encoding"] = {k: {e: v[e] for e in ("style", "explode", "allowReserved", "contentType") if e in v}
                                for k, v in (mt.get("encoding") or {}).items() if isinstance(v, dict)}  # fmt: skip
        if kind == MULTIPART and isinstance(top, dict):
            files = [k for k, v in (top.get("properties") or {}).items() if self._binary(v)]
            arrays = [k for k, v in (top.get("properties") or {}).items()
                      if isinstance(v, dict) and v.get("type") == "array" and self._binary(v.get("items"))]  # fmt: skip
            if files or arrays:
                top = dict(top, properties=dict(top["properties"]))
                for k in files:
                    top["properties"][k] = FILE_SCHEMA
                for k in arrays:
                    top["properties"][k] = {"type": "array", "items": FILE_SCHEMA}
                schema = top
            plan["files"] = files + arrays
        clash = flat and bool(set(top["properties"]) & param_args)
        if flat and not clash:
            props.update(top["properties"])
            if is_required:
                required.extend(r for r in top.get("required", []) if r in top["properties"])
            plan["props"] = list(top["properties"])
            plan["additional"] = top.get("additionalProperties")
            return plan
        plan["arg"] = body_arg
        props[body_arg] = schema
        if is_required:
            required.append(body_arg)
        return plan

    def _top(self, schema: Any) -> Any:
        return self.book.named(schema, REQUEST)

    def _binary(self, schema: Any) -> bool:
        for _ in range(10):
            named = self.book.named(schema, REQUEST)
            if named is schema:
                break
            schema = named
        if not isinstance(schema, dict):
            return False
        return schema.get("format") == "binary" or (
            "contentMediaType" in schema and "contentEncoding" not in schema
        )

    # ------------------------------------------------------------------ responses
    def _responses(self, op: dict[str, Any], where: str) -> tuple[dict[str, Any], Any, str | None]:
        entries: dict[str, Any] = {}
        success: list[str] = []
        raw_responses = op.get("responses") or {}
        for code, raw in raw_responses.items():
            code = str(code).upper()
            resp = self.doc.deref(raw, f"{where}/responses/{code}")
            content = (resp or {}).get("content") or {}
            entry: dict[str, Any] = {"media": list(content) if isinstance(content, dict) else []}
            deps: set[str] = set()
            for media, mt in content.items() if isinstance(content, dict) else []:
                if is_json(media) and isinstance(mt, dict) and mt.get("schema") is not None:
                    schema, deps = self.book.schema(mt["schema"], f"{where}/responses/{code}", RESPONSE)
                    entry["schema"] = schema
                    entry["deps"] = deps
                    break
            entries[code] = entry
            if code.startswith("2"):
                success.append(code)
        if not success and "DEFAULT" in entries:
            success = ["DEFAULT"]
        variants: list[Any] = []
        out_deps: set[str] = set()
        accept: list[str] = []
        for code in success:
            entry = entries[code]
            if not entry["media"]:  # 204 is empty by definition; elsewhere no content = undocumented
                variants.append({"type": "null"} if code in ("204", "205") else {})
            for media in entry["media"]:
                if media not in accept:
                    accept.append(media)
                if is_json(media):
                    variants.append(entry.get("schema", {}))
                    out_deps |= entry.get("deps", set())
                elif is_texty(media):
                    variants.append({"type": "string"})
                else:
                    variants.append(FILE_REF_SCHEMA)
        for entry in entries.values():
            if "schema" in entry:
                entry["schema"] = with_defs(self._inline_top(entry["schema"], RESPONSE),
                                            self.book.closure(entry.pop("deps"), RESPONSE))  # fmt: skip
        unique = list({json.dumps(v, sort_keys=True): v for v in variants}.values())
        output: Any = None
        if unique and all(v != {} for v in unique):
            root = unique[0] if len(unique) == 1 else {"anyOf": unique}
            output = with_defs(self._inline_top(root, RESPONSE), self.book.closure(out_deps, RESPONSE))
        accept.sort(key=lambda m: 0 if is_json(m) else 1)
        header = ", ".join(m if is_json(m) else f"{m};q=0.9" for m in accept) or None
        return (
            {k.lower(): {"media": v["media"], "schema": v.get("schema")} for k, v in entries.items()},
            output,
            header,
        )

    def _inline_top(self, schema: Any, direction: str) -> Any:
        named = self.book.named(schema, direction)
        if named is schema or not isinstance(named, dict):
            return schema
        return {**named, **({"description": schema["description"]} if "description" in schema else {})}
