"""Documents: dialects (3.0 translated, 3.1 jsonSchemaDialect honoured, Swagger 2.0 refused),
recursion kept as $defs (and inlined, bounded, for tool formats that need it), and bad input:
one line each, nothing half-registered."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from agentcore_nb._jsonschema import jsonschema
from agentcore_nb.gateway import ToolInputError, ToolSchemaError
from agentcore_nb.gateway.openapi import import_document, inline_refs


def _doc(tmp_path, doc, name="api.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False) if name.endswith(".yaml") else json.dumps(doc))
    return path


def _op(schema, version="3.0.3", **extra):
    return {"openapi": version, "info": {"title": "t", "version": "1"}, "servers": [{"url": "http://127.0.0.1:9"}],
            "paths": {"/x": {"post": {"operationId": "op", "requestBody": {"required": True, "content": {
                "application/json": {"schema": schema}}}, "responses": {"200": {"description": "ok"}}}}},
            **extra}  # fmt: skip


def test_openapi_3_0_dialect_is_translated(tmp_path):
    schema = {"type": "object", "properties": {
        "a": {"type": "number", "minimum": 1, "exclusiveMinimum": True, "maximum": 5, "exclusiveMaximum": False},
        "b": {"type": "string", "nullable": True, "enum": ["x", "y"], "example": "x"},
        "c": {"$ref": "#/components/schemas/Pet"},
        "d": {"type": "string", "readOnly": True},
        "pet": {"oneOf": [{"$ref": "#/components/schemas/Pet"}, {"$ref": "#/components/schemas/Cat"}],
                "discriminator": {"propertyName": "kind", "mapping": {"cat": "#/components/schemas/Cat"}}}},
        "required": ["a", "d"]}  # fmt: skip
    comps = {"schemas": {"Pet": {"type": "object", "properties": {"kind": {"type": "string"}}, "x-internal": 1},
                         "Cat": {"allOf": [{"$ref": "#/components/schemas/Pet"}]}}}  # fmt: skip
    tool = import_document(_doc(tmp_path, _op(schema, components=comps))).tools[0]
    s = tool["inputSchema"]
    jsonschema.Draft202012Validator.check_schema(s)
    assert s["properties"]["a"] == {"type": "number", "exclusiveMinimum": 1, "maximum": 5}
    assert s["properties"]["b"] == {"type": ["string", "null"], "enum": ["x", "y", None], "examples": ["x"]}
    assert "d" not in s["properties"] and s["required"] == ["a"]  # readOnly: not in a request
    assert s["properties"]["pet"]["discriminator"] == {
        "propertyName": "kind",
        "mapping": {"cat": "#/$defs/Cat"},
    }
    assert s["$defs"]["Pet"] == {"type": "object", "properties": {"kind": {"type": "string"}}}


def test_openapi_3_1_honours_json_schema_dialect(tmp_path):
    schema = {"type": "object", "properties": {"pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}],
              "additionalItems": False}, "n": {"type": "integer", "maximum": 3, "exclusiveMaximum": True}},
              "dependencies": {"pair": ["n"]}}  # fmt: skip
    doc = _op(schema, "3.1.0", jsonSchemaDialect="http://json-schema.org/draft-04/schema#")
    s = import_document(_doc(tmp_path, doc)).tools[0]["inputSchema"]
    s = s["properties"]["body"]  # dependencies: not a plain object, so the body stays whole
    assert s["properties"]["pair"] == {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}],
                                       "items": False}  # fmt: skip
    assert s["properties"]["n"] == {"type": "integer", "exclusiveMaximum": 3}
    assert s["dependentRequired"] == {"pair": ["n"]}
    native = _op(
        {"type": "object", "properties": {"n": {"type": ["integer", "null"], "exclusiveMaximum": 3}}}, "3.1.0"
    )
    assert import_document(_doc(tmp_path, native)).tools[0]["inputSchema"]["properties"]["n"] == {
        "type": ["integer", "null"], "exclusiveMaximum": 3}  # fmt: skip
    odd = _op({"type": "object"}, "3.1.0", jsonSchemaDialect="https://example.com/my-dialect")
    with pytest.raises(ToolSchemaError, match="names JSON Schema dialect 'https://example.com/my-dialect'"):
        import_document(_doc(tmp_path, odd))


def test_recursion_stays_as_defs_and_inlines_bounded():
    doc = _op({"$ref": "#/components/schemas/Comment"}, components={"schemas": {"Comment": {
        "type": "object", "properties": {"text": {"type": "string"},
                                         "replies": {"type": "array", "items": {"$ref": "#/components/schemas/Comment"}}}}}})  # fmt: skip
    from agentcore_nb.gateway.openapi import Document

    s = import_document(Document(doc, "mem", "3.0", "oas-3.0")).tools[0]["inputSchema"]
    assert s["properties"]["replies"]["items"] == {"$ref": "#/$defs/Comment"}
    v = jsonschema.Draft202012Validator(s)
    assert v.is_valid({"text": "a", "replies": [{"text": "b", "replies": [{"text": "c", "replies": []}]}]})
    assert not v.is_valid({"text": "a", "replies": [{"replies": [{"text": 5}]}]})
    flat = inline_refs(s, depth=2)
    assert "$ref" not in json.dumps(flat) and "$defs" not in flat
    leaf = flat["properties"]["replies"]["items"]["properties"]["replies"]["items"]["properties"]["replies"][
        "items"
    ]
    assert leaf["type"] == "object" and "nested deeper" in leaf["description"]
    # what each provider gets: OpenAI and Anthropic the $defs as they are; Bedrock Converse, inlined
    from agentcore_nb.models.bedrock import to_converse_request
    from agentcore_nb.models.types import normalize_tools

    tools = normalize_tools([{"name": "op", "description": "d", "inputSchema": s}])
    req = to_converse_request("m", [{"role": "user", "content": "hi"}], tools, None)
    sent = req["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]
    assert sent == inline_refs(s) and "$ref" not in json.dumps(sent)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("just: yaml\n", "is not an OpenAPI 3.0 or 3.1 document"),
        ("swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n", "is a Swagger 2.0 document"),
        ("openapi: 3.0.0\npaths: [\n", "is not valid YAML"),
        ("openapi: 4.0.0\npaths: {}\n", "(openapi: 4.0.0)"),
    ],
)
def test_not_openapi_is_one_line(gateway, tmp_path, doc, message):
    path = tmp_path / "bad.yaml"
    path.write_text(doc)
    with pytest.raises(ToolSchemaError) as info:
        gateway.register_openapi(path)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert gateway.list() == [s for s in gateway.list() if s.target.get("type") == "builtin"]


def test_missing_component_ref_registers_nothing(gateway, tmp_path):
    doc = _op({"type": "object"})
    doc["paths"]["/y"] = {"get": {"operationId": "second", "responses": {"200": {"description": "ok", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Missing"}}}}}}}  # fmt: skip
    with pytest.raises(
        ToolSchemaError, match="\\$ref '#/components/schemas/Missing' at paths//y/get.* points to nothing"
    ):
        gateway.register_openapi(_doc(tmp_path, doc))
    assert not [s for s in gateway.list() if s.target.get("type") == "openapi"]
    doc["paths"]["/y"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = {
        "$ref": "https://example.com/schemas.json#/Pet"
    }
    with pytest.raises(ToolSchemaError, match="points outside the document"):
        gateway.register_openapi(_doc(tmp_path, doc))


def test_two_conflicting_bodies(gateway, tmp_path):
    doc = _op({"type": "object", "properties": {"a": {"type": "string"}}})
    doc["paths"]["/x"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"] = {
        "schema": {"type": "object", "properties": {"b": {"type": "integer"}}}
    }
    doc["paths"]["/ok"] = {"get": {"operationId": "fine", "responses": {"200": {"description": "ok"}}}}
    with pytest.raises(ToolSchemaError, match="POST /x: request bodies application/json and "
                       "application/x-www-form-urlencoded have conflicting schemas"):  # fmt: skip
        gateway.register_openapi(_doc(tmp_path, doc), strict=True)
    assert not [s for s in gateway.list() if s.target.get("type") == "openapi"]
    regs = gateway.register_openapi(_doc(tmp_path, doc))
    assert [r.spec.name for r in regs] == ["fine"] and regs.refused[0][0] == "POST /x"


def test_a_ten_megabyte_document_is_one_line(gateway, tmp_path):
    doc = _op({"type": "object"})
    doc["info"]["description"] = "x" * (10 * 1024 * 1024)
    with pytest.raises(ToolSchemaError, match=r"is 10\.0 MB, over the 8 MB limit .*AGENTCORE_OPENAPI_MAX_MB"):
        gateway.register_openapi(_doc(tmp_path, doc, "big.json"))
    assert not [s for s in gateway.list() if s.target.get("type") == "openapi"]


def test_an_alias_bomb_is_refused_not_expanded(gateway, tmp_path):
    lines = ["openapi: 3.0.0", "info: {title: t, version: '1'}", "servers: [{url: 'http://127.0.0.1:9'}]",
             "x-a0: &a0 {type: string}"]  # fmt: skip
    for i in range(1, 24):
        lines.append(f"x-a{i}: &a{i} {{type: object, properties: {{l: *a{i - 1}, r: *a{i - 1}}}}}")
    lines.append("paths: {/x: {post: {operationId: bomb, requestBody: {content: {application/json: {schema: *a23}}},"
                 " responses: {'200': {description: ok}}}}}")  # fmt: skip
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines))
    with pytest.raises(ToolSchemaError, match="expands to over 5,000,000 nodes"):
        gateway.register_openapi(path)


def test_cli_register_says_what_was_refused(subprocess_env, tmp_path):
    from pathlib import Path

    wire = Path(__file__).parent / "wire_api.yaml"
    out = subprocess.run([sys.executable, "-m", "agentcore_nb.cli", "gateway", "register", "--openapi", str(wire),
                          "--base-url", "http://127.0.0.1:9"], capture_output=True, text=True, env=subprocess_env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "registered updatePetWithForm@1" in out.stdout
    assert "refused POST /xml: " in out.stdout


def test_validation_error_on_wrong_file_shape(gateway, tmp_path):
    from pathlib import Path

    gateway.register_openapi(Path(__file__).parent / "wire_api.yaml", base_url="http://127.0.0.1:9")
    with pytest.raises(ToolInputError, match="input.body"):
        gateway.call("putBlob", {"name": "x", "body": "just a string"})


def test_a_relative_server_url_needs_a_base_url(gateway, tmp_path):
    doc = _op({"type": "object"})
    doc["servers"] = [{"url": "/api/v3"}]
    with pytest.raises(ToolSchemaError, match=r"has a relative server URL '/api/v3' \(pass a base URL"):
        gateway.register_openapi(_doc(tmp_path, doc))
    regs = gateway.register_openapi(_doc(tmp_path, doc), base_url="http://127.0.0.1:9/api/v3")
    assert regs[0].spec.target["base_url"] == "http://127.0.0.1:9/api/v3"
