"""Arguments -> one HTTP request, following the plan built at registration: every parameter in
its location and style (RFC 6570-like, as OpenAPI defines), the body in its media type. Every
argument is consumed; one that would not reach the wire is an error, never dropped."""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..spec import ToolInputError
from .media import BINARY, FORM, JSON, MULTIPART, TEXT, essence, is_json

FILE_ROOTS_ENV = "AGENTCORE_FILE_ROOTS"
MAX_FILE_BYTES = 100 * 1024 * 1024
_RESERVED = ":/?#[]@!$&'()*+,;="


@dataclass(slots=True)
class Request:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)
    content: bytes | None = None
    data: dict[str, Any] | None = None
    files: list[tuple[str, tuple[str | None, bytes, str | None]]] | None = None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"))


def _enc(value: Any, reserved: bool = False) -> str:
    return urllib.parse.quote(_text(value), safe=_RESERVED if reserved else "")


def _flat(value: dict[str, Any], sep: str, pair: str, enc: Any) -> str:
    return sep.join(f"{enc(k)}{pair}{enc(v)}" for k, v in value.items())


def path_value(style: str, explode: bool, name: str, value: Any) -> str:
    def enc(v: Any) -> str:
        out = _enc(v)
        return out.replace(".", "%2E") if out in (".", "..") else out

    if style == "label":
        if isinstance(value, list):
            return "." + ("." if explode else ",").join(enc(v) for v in value)
        if isinstance(value, dict):
            return "." + (_flat(value, ".", "=", enc) if explode else _flat(value, ",", ",", enc))
        return "." + enc(value)
    if style == "matrix":
        if isinstance(value, list):
            if explode:
                return "".join(f";{name}={enc(v)}" for v in value)
            return f";{name}=" + ",".join(enc(v) for v in value)
        if isinstance(value, dict):
            return ";" + _flat(value, ";", "=", enc) if explode else f";{name}=" + _flat(value, ",", ",", enc)
        return f";{name}={enc(value)}"
    if isinstance(value, list):
        return ",".join(enc(v) for v in value)
    if isinstance(value, dict):
        return _flat(value, ",", "=", enc) if explode else _flat(value, ",", ",", enc)
    return enc(value)


def query_pairs(style: str, explode: bool, name: str, value: Any, reserved: bool = False) -> list[str]:
    """``name=value`` pieces of a query string (or a form body) for one parameter."""

    def enc(v: Any) -> str:
        return _enc(v, reserved)

    key = _enc(name)
    if style == "deepObject" and isinstance(value, dict):
        out: list[str] = []

        def walk(prefix: str, node: Any) -> None:
            if isinstance(node, dict):
                for k, v in node.items():
                    walk(f"{prefix}[{_enc(k)}]", v)
            elif isinstance(node, list):
                for v in node:
                    walk(f"{prefix}[]", v)
            else:
                out.append(f"{prefix}={enc(node)}")

        walk(key, value)
        return out
    if isinstance(value, list):
        if explode:
            return [f"{key}={enc(v)}" for v in value]
        sep = {"spaceDelimited": "%20", "pipeDelimited": "|"}.get(style, ",")
        return [f"{key}=" + sep.join(enc(v) for v in value)]
    if isinstance(value, dict):
        if explode:
            return [f"{_enc(k)}={enc(v)}" for k, v in value.items()]
        sep = {"spaceDelimited": "%20", "pipeDelimited": "|"}.get(style, ",")
        return [f"{key}=" + sep.join(f"{enc(k)}{sep}{enc(v)}" for k, v in value.items())]
    return [f"{key}={enc(value)}"]


def header_value(explode: bool, value: Any, name: str) -> str:
    if isinstance(value, list):
        text = ",".join(_text(v) for v in value)
    elif isinstance(value, dict):
        text = ",".join(f"{k}={_text(v)}" if explode else f"{k},{_text(v)}" for k, v in value.items())
    else:
        text = _text(value)
    if "\r" in text or "\n" in text or "\0" in text:
        raise ToolInputError(f"input.{name}: a header value cannot contain line breaks or NUL")
    return text


def cookie_value(explode: bool, name: str, value: Any) -> list[str]:
    def enc(v: Any) -> str:
        return urllib.parse.quote(_text(v), safe="")

    if isinstance(value, list):
        return (
            [f"{name}={enc(v)}" for v in value] if explode else [f"{name}=" + ",".join(enc(v) for v in value)]
        )
    if isinstance(value, dict):
        if explode:
            return [f"{k}={enc(v)}" for k, v in value.items()]
        return [f"{name}=" + ",".join(f"{enc(k)},{enc(v)}" for k, v in value.items())]
    return [f"{name}={enc(value)}"]


# ---------------------------------------------------------------------------- files


def file_roots() -> list[Path]:
    raw = os.environ.get(FILE_ROOTS_ENV)
    roots = [Path(p) for p in raw.split(os.pathsep) if p] if raw else [Path.cwd()]
    return [r.resolve() for r in roots]


def load_file(spec: Any, where: str) -> tuple[str, bytes, str]:
    """(filename, bytes, content type) of a file argument: a path under the allowed roots (the
    working directory unless ``AGENTCORE_FILE_ROOTS`` says otherwise) or base64 content."""
    if not isinstance(spec, dict):
        raise ToolInputError(f"{where}: a file must be {{'path': ...}} or {{'base64': ...}}")
    ctype = spec.get("contentType")
    if "base64" in spec:
        try:
            data = base64.b64decode(str(spec["base64"]), validate=True)
        except (binascii.Error, ValueError):
            raise ToolInputError(f"{where}.base64 is not valid base64") from None
        name = str(spec.get("filename") or "upload.bin")
    else:
        roots = file_roots()
        raw = Path(str(spec.get("path", "")))
        path = (raw if raw.is_absolute() else roots[0] / raw).resolve()
        if not any(path == r or r in path.parents for r in roots):
            raise ToolInputError(
                f"{where}.path {str(raw)!r} is outside the directories files may be sent from",
                hint=f"allowed: {', '.join(map(str, roots))} (set {FILE_ROOTS_ENV})",
            )
        if not path.is_file():
            raise ToolInputError(f"{where}.path {str(raw)!r} is not a file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ToolInputError(f"{where}.path {str(raw)!r} is over {MAX_FILE_BYTES // 1048576} MB")
        data = path.read_bytes()
        name = str(spec.get("filename") or path.name)
    ctype = ctype or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return name, data, str(ctype)


# ---------------------------------------------------------------------------- the request


def build_request(target: dict[str, Any], arguments: dict[str, Any]) -> Request:
    path = target["path"]
    query: list[str] = []
    req = Request(target["method"].upper(), "")
    consumed: set[str] = set()
    for p in target.get("params") or []:
        arg = p["arg"]
        if arg not in arguments:
            continue
        consumed.add(arg)
        value = arguments[arg]
        if p.get("json"):
            value = json.dumps(value, separators=(",", ":"))
        where, style, explode = p["in"], p["style"], bool(p.get("explode"))
        if where == "path":
            path = path.replace("{" + p["name"] + "}", path_value(style, explode, p["name"], value))
        elif where == "query":
            query += query_pairs(style, explode, p["name"], value, bool(p.get("allowReserved")))
        elif where == "header":
            req.headers[p["name"]] = header_value(explode, value, arg)
        elif where == "cookie":
            req.cookies += cookie_value(explode, p["name"], value)
    body = target.get("body")
    if body:
        consumed |= _body(req, body, arguments, consumed)
    left = set(arguments) - consumed
    if left:
        raise ToolInputError(f"input has {', '.join(sorted(left))}, which this operation has no place for")
    joiner = "&" if "?" in path else "?"  # some documents put a fixed query in the path itself
    req.url = target["base_url"].rstrip("/") + path + (joiner + "&".join(query) if query else "")
    if req.cookies:
        req.headers["Cookie"] = "; ".join(req.cookies)
    if target.get("accept"):
        req.headers.setdefault("Accept", target["accept"])
    return req


def _body(req: Request, plan: dict[str, Any], arguments: dict[str, Any], params: set[str]) -> set[str]:
    kind, media = plan["kind"], plan["media"]
    if plan.get("arg"):
        if plan["arg"] not in arguments:
            return set()
        value = arguments[plan["arg"]]
        used = {plan["arg"]}
    else:
        value = {k: v for k, v in arguments.items() if k not in params}
        used = set(value)
        if not value and not plan.get("required"):
            return used
    ctype = (
        media if "*" not in media else ("application/json" if kind == JSON else "application/octet-stream")
    )
    if kind == JSON:
        req.content = json.dumps(value, separators=(",", ":")).encode()
        req.headers["Content-Type"] = ctype if is_json(ctype) else "application/json"
    elif kind == TEXT:
        req.content = _text(value).encode("utf-8")
        req.headers["Content-Type"] = ctype if "charset" in ctype else f"{ctype}; charset=utf-8"
    elif kind == BINARY:
        _, data, file_type = load_file(value, f"input.{plan['arg']}")
        req.content = data
        req.headers["Content-Type"] = file_type if "*" in media else ctype
    elif kind == FORM:
        if not isinstance(value, dict):
            raise ToolInputError(f"input.{plan.get('arg') or 'body'}: a form body must be an object")
        pieces: list[str] = []
        for k, v in value.items():
            enc = (plan.get("encoding") or {}).get(k, {})
            if is_json(enc.get("contentType", "")) and isinstance(v, dict | list):
                pieces += query_pairs("form", True, k, json.dumps(v, separators=(",", ":")))
                continue
            style = enc.get("style", "form")
            pieces += query_pairs(style, bool(enc.get("explode", style == "form")), k, v,
                                  bool(enc.get("allowReserved")))  # fmt: skip
        req.content = "&".join(pieces).encode()
        req.headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif kind == MULTIPART:
        if not isinstance(value, dict):
            raise ToolInputError(f"input.{plan.get('arg') or 'body'}: a multipart body must be an object")
        files = set(plan.get("files") or [])
        parts: list[tuple[str, tuple[str | None, bytes, str | None]]] = []
        for k, v in value.items():
            enc = (plan.get("encoding") or {}).get(k, {})
            if k in files:
                for i, one in enumerate(v if isinstance(v, list) else [v]):
                    name, data, ftype = load_file(
                        one, f"input.{k}" + (f"[{i}]" if isinstance(v, list) else "")
                    )
                    declared = enc.get("contentType")
                    if (
                        declared
                        and "," not in declared
                        and "*" not in declared
                        and not (isinstance(one, dict) and one.get("contentType"))
                    ):
                        ftype = declared
                    parts.append((k, (name, data, ftype)))
            elif isinstance(v, list) and all(not isinstance(x, dict | list) for x in v):
                parts += [(k, (None, _text(x).encode(), None)) for x in v]
            elif isinstance(v, dict | list):
                parts.append((k, (None, json.dumps(v, separators=(",", ":")).encode(), "application/json")))
            else:
                parts.append((k, (None, _text(v).encode(), enc.get("contentType"))))
        req.files = parts
    else:  # pragma: no cover - plans are built from the kinds above
        raise ToolInputError(f"cannot send a {essence(media)} body")
    return used
