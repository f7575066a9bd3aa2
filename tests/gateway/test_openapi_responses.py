"""Responses: Accept from the operation's media types, JSON / text / file-reference answers,
ranged and default codes, and output validation against the status actually returned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from agentcore_nb.gateway import ToolOutputError, ToolTargetError

from .echo import Answer

DOC = {
    "openapi": "3.0.3",
    "info": {"title": "responses", "version": "1"},
    "paths": {
        "/report": {"get": {"operationId": "getReport", "responses": {
            "200": {"description": "ok", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Report"}},
                "text/csv": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
            "202": {"description": "queued", "content": {"application/json": {"schema": {
                "type": "object", "required": ["ticket"], "properties": {"ticket": {"type": "integer"}}}}}},
            "default": {"description": "error", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"message": {"type": "string"}}}}}}}}},
        "/ranged": {"get": {"operationId": "ranged", "responses": {
            "2XX": {"description": "any success", "content": {"application/json": {"schema": {
                "type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}}}}}}},
        "/only-default": {"get": {"operationId": "onlyDefault", "responses": {
            "default": {"description": "whatever", "content": {"application/json": {"schema": {
                "type": "array", "items": {"type": "integer"}}}}}}}},
    },
    "components": {"schemas": {"Report": {"type": "object", "required": ["rows"], "properties": {
        "rows": {"type": "integer"}, "token": {"type": "string", "writeOnly": True}}}}},
}  # fmt: skip


@pytest.fixture
def api(gateway, echo, tmp_path):
    path = tmp_path / "responses.yaml"
    path.write_text(yaml.safe_dump(DOC, sort_keys=False))
    gateway.register_openapi(path, base_url=echo.url)
    return gateway, echo


def test_accept_lists_the_operation_media_types_json_first(api):
    gateway, echo = api
    echo.answer("/report", Answer(body=b'{"rows": 3}'))
    assert gateway.call("getReport", {}) == {"rows": 3}
    assert echo.last().header("Accept") == "application/json, text/csv;q=0.9, application/pdf;q=0.9"


def test_output_schema_is_the_union_of_success_responses(api):
    gateway, _ = api
    out = gateway.get("getReport").output_schema
    variants = out["anyOf"]
    assert {"$ref": "#/$defs/Report"} in variants and {"type": "string"} in variants
    assert {
        "type": "object",
        "required": ["ticket"],
        "properties": {"ticket": {"type": "integer"}},
    } in variants
    assert any(v.get("required") == ["file", "contentType", "size"] for v in variants)  # the PDF
    assert out["$defs"]["Report"] == {
        "type": "object",
        "required": ["rows"],
        "properties": {"rows": {"type": "integer"}},
    }
    assert "token" not in json.dumps(out)  # writeOnly: never in a response


def test_text_and_binary_answers(api, agentcore_home):
    gateway, echo = api
    echo.answer("/report", Answer(body=b"a,b\n1,2\n", content_type="text/csv; charset=utf-8"))
    assert gateway.call("getReport", {}) == "a,b\n1,2\n"
    pdf = b"%PDF-1.4\n\x00\xff binary"
    echo.answer("/report", Answer(body=pdf, content_type="application/pdf",
                                  headers={"Content-Disposition": 'attachment; filename="../../q3.pdf"'}))  # fmt: skip
    ref = gateway.call("getReport", {})
    assert ref["contentType"] == "application/pdf" and ref["size"] == len(pdf)
    saved = Path(ref["file"])
    assert saved.read_bytes() == pdf and saved.name.endswith("q3.pdf")
    assert saved.parent == agentcore_home / "downloads"


def test_output_is_validated_against_the_status_returned(api):
    gateway, echo = api
    echo.answer("/report", Answer(status=202, body=b'{"ticket": 9}'))
    assert gateway.call("getReport", {}) == {"ticket": 9}
    echo.answer("/report", Answer(status=202, body=b'{"rows": 9}'))
    with pytest.raises(ToolOutputError, match=r"HTTP 202\): output: 'ticket' is a required property"):
        gateway.call("getReport", {})
    echo.answer("/report", Answer(status=200, body=b'{"ticket": 9}'))
    with pytest.raises(ToolOutputError, match=r"HTTP 200\): output: 'rows' is a required property"):
        gateway.call("getReport", {})


def test_ranged_and_default_codes(api):
    gateway, echo = api
    echo.answer("/ranged", Answer(status=206, body=b'{"ok": true}'))
    assert gateway.call("ranged", {}) == {"ok": True}
    echo.answer("/ranged", Answer(status=201, body=b'{"ok": "yes"}'))
    with pytest.raises(ToolOutputError, match=r"HTTP 201\): output.ok: 'yes' is not of type 'boolean'"):
        gateway.call("ranged", {})
    echo.answer("/only-default", Answer(body=b"[1, 2]"))
    assert gateway.call("onlyDefault", {}) == [1, 2]
    echo.answer("/only-default", Answer(body=b'["x"]'))
    with pytest.raises(ToolOutputError, match=r"output\[0\]: 'x' is not of type 'integer'"):
        gateway.call("onlyDefault", {})
    echo.answer("/only-default", Answer(status=404, body=b'{"message": "no such thing"}'))
    with pytest.raises(ToolTargetError, match="answered HTTP 404: .*no such thing"):
        gateway.call("onlyDefault", {})
