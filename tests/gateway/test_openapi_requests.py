"""Every argument reaches the wire where the document says, checked by a real echo server on
127.0.0.1 that records what arrived (decoded with the standard library, not with our encoder)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from agentcore_nb.gateway import ToolInputError

from .echo import Answer

HERE = Path(__file__).parent
WIRE = HERE / "wire_api.yaml"


@pytest.fixture
def wire(gateway, echo):
    regs = gateway.register_openapi(WIRE, base_url=echo.url)
    return gateway, echo, regs


def test_form_body_is_sent_not_dropped(wire):
    gateway, echo, _ = wire
    gateway.call("updatePetWithForm", {"petId": 3, "name": "tom", "status": "sold"})
    got = echo.last()
    assert (got.method, got.path) == ("POST", "/pet/3")
    assert got.content_type == "application/x-www-form-urlencoded"
    assert got.form() == [("name", "tom"), ("status", "sold")]


def test_form_encoding_object_styles(wire):
    gateway, echo, _ = wire
    gateway.call("formWithEncoding", {"tags": ["a b", "c&d"], "csv": ["x", "y"],
                                      "filter": {"color": "red", "size": 2}, "meta": {"a": 1}})  # fmt: skip
    assert echo.last().form() == [("tags", "a b"), ("tags", "c&d"), ("csv", "x,y"), ("filter[color]", "red"),
                                  ("filter[size]", "2"), ("meta", '{"a":1}')]  # fmt: skip


def test_multipart_files_by_path_and_base64(wire, tmp_path, monkeypatch):
    gateway, echo, _ = wire
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cat.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    gateway.call("uploadFile", {
        "petId": 7, "additionalMetadata": "a cat", "file": {"path": "cat.png"},
        "attachments": [{"base64": base64.b64encode(b"\x00\x01\x02").decode(), "filename": "raw.bin"},
                        {"base64": base64.b64encode(b"hello").decode(), "filename": "h.txt",
                         "contentType": "text/plain"}],
        "labels": ["x", "y"], "info": {"source": "notebook"}})  # fmt: skip
    got = echo.last()
    assert got.path == "/pet/7/uploadImage" and got.content_type.startswith("multipart/form-data")
    parts = got.parts()
    by = [(p["name"], p["filename"], p["type"], p["data"]) for p in parts]
    assert ("additionalMetadata", None, None, b"a cat") in by
    assert ("file", "cat.png", "image/png", b"\x89PNG\r\n\x1a\nfake") in by
    assert ("attachments", "raw.bin", "application/octet-stream", b"\x00\x01\x02") in by
    assert ("attachments", "h.txt", "text/plain", b"hello") in by
    assert [p["data"] for p in parts if p["name"] == "labels"] == [b"x", b"y"]
    info = next(p for p in parts if p["name"] == "info")
    assert info["type"] == "application/json" and json.loads(info["data"]) == {"source": "notebook"}


def test_a_file_outside_the_allowed_directories_is_refused(wire, tmp_path, monkeypatch):
    gateway, echo, _ = wire
    monkeypatch.chdir(tmp_path)
    for path in ("/etc/passwd", "../../etc/passwd"):
        with pytest.raises(ToolInputError, match="outside the directories files may be sent from"):
            gateway.call("uploadFile", {"petId": 1, "file": {"path": path}})
    (tmp_path / "link").symlink_to("/etc/passwd")
    with pytest.raises(ToolInputError, match="outside"):
        gateway.call("uploadFile", {"petId": 1, "file": {"path": "link"}})
    with pytest.raises(ToolInputError, match="not valid base64"):
        gateway.call("uploadFile", {"petId": 1, "file": {"base64": "@@not base64@@"}})
    assert echo.arrivals == []


def test_text_and_octet_stream_bodies(wire, tmp_path, monkeypatch):
    gateway, echo, _ = wire
    echo.answer("/notes", Answer(status=204, body=b"", content_type=""))
    assert gateway.call("postNote", {"body": "ünïcode note\nline 2"}) is None
    got = echo.last()
    assert got.content_type == "text/plain; charset=utf-8" and got.body.decode() == "ünïcode note\nline 2"
    monkeypatch.setenv("AGENTCORE_FILE_ROOTS", str(tmp_path))
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)))
    gateway.call("putBlob", {"name": "b1", "body": {"path": str(tmp_path / "blob.bin")}})
    got = echo.last()
    assert (got.method, got.path, got.content_type, got.body) == (
        "PUT", "/blobs/b1", "application/octet-stream", bytes(range(256)))  # fmt: skip


def test_every_parameter_style(wire):
    """Expected strings are the OpenAPI specification's own style examples."""
    gateway, echo, _ = wire
    gateway.call("styles", {
        "simple": ["blue", "black"], "label": ["blue", "black"], "matrix": {"R": 100, "G": 200},
        "color": ["blue", "black", "brown"], "csv": ["blue", "black"], "space": ["blue", "black"],
        "pipe": ["blue", "black"], "deep": {"R": 100, "G": 200}, "point": {"x": 1, "y": 2},
        "reserved": "a/b:c", "asjson": {"k": [1, 2]}, "X-Trace": "t-1", "X-Dims": {"w": 3, "h": 4},
        "session": "s 1", "prefs": ["dark", "wide"]})  # fmt: skip
    got = echo.last()
    assert got.path == "/styles/blue,black/.blue.black/;matrix=R,100,G,200"
    assert got.query.split("&") == [
        "color=blue", "color=black", "color=brown", "csv=blue,black", "space=blue%20black", "pipe=blue|black",
        "deep[R]=100", "deep[G]=200", "x=1", "y=2", "reserved=a/b:c", "asjson=%7B%22k%22%3A%5B1%2C2%5D%7D"]  # fmt: skip
    assert dict(got.query_pairs())["asjson"] == '{"k":[1,2]}'
    assert got.header("X-Trace") == "t-1" and got.header("X-Dims") == "w=3,h=4"
    assert got.cookies() == [("session", "s 1"), ("prefs", "dark,wide")]


def test_name_clash_rule(wire):
    gateway, echo, _ = wire
    schema = gateway.get("clash").input_schema
    assert set(schema["properties"]) == {"id", "id_header", "verbose", "body"}
    gateway.call(
        "clash", {"id": "p", "id_header": "h", "verbose": True, "body": {"verbose": "yes", "note": "n"}}
    )
    got = echo.last()
    assert got.path == "/clash/p" and got.query == "verbose=true" and got.header("id") == "h"
    assert got.json() == {"verbose": "yes", "note": "n"}


def test_flattened_body_with_3_0_dialect(wire):
    gateway, echo, _ = wire
    schema = gateway.get("flat").input_schema
    assert "id" not in {k for k in schema["properties"] if k != "id"} and "secret" in schema["properties"]
    assert schema["properties"]["age"] == {"type": "integer", "minimum": 0, "exclusiveMaximum": 30}
    assert schema["properties"]["nickname"] == {"type": ["string", "null"]}
    with pytest.raises(ToolInputError, match="30 is greater than or equal to the maximum of 30"):
        gateway.call("flat", {"id": "1", "name": "rex", "age": 30})
    gateway.call("flat", {"id": "1", "name": "rex", "age": 29, "nickname": None, "secret": "s"})
    got = echo.last()
    assert got.content_type == "application/vnd.api+json"
    assert got.json() == {"name": "rex", "age": 29, "nickname": None, "secret": "s"}


def test_recursive_input_is_validated_and_sent(wire):
    gateway, echo, _ = wire
    spec = gateway.get("plantTree")
    assert spec.input_schema["properties"]["children"] == {"type": "array", "items": {"$ref": "#/$defs/Node"}}
    tree = {"name": "root", "children": [{"name": "a", "children": [{"name": "a1", "parent": None}]}]}
    echo.answer("/trees", Answer(body=json.dumps(tree).encode()))
    assert gateway.call("plantTree", tree) == tree
    assert echo.last().json() == tree
    bad = {"name": "root", "children": [{"name": "a", "children": [{"children": []}]}]}
    with pytest.raises(
        ToolInputError, match=r"input.children\[0\].children\[0\]: 'name' is a required property"
    ):
        gateway.call("plantTree", bad)


def test_an_operation_that_cannot_be_built_is_refused_at_registration(wire):
    gateway, _, regs = wire
    assert [label for label, _ in regs.refused] == ["POST /xml"]
    assert "application/xml" in regs.refused[0][1]
    assert "xmlOnly" not in {s.name for s in gateway.list()}


def test_nothing_is_dropped_silently(wire):
    gateway, echo, _ = wire
    with pytest.raises(ToolInputError, match="Additional properties are not allowed"):
        gateway.call("styles", {"simple": ["a"], "label": ["b"], "matrix": {}, "typo": 1})
    with pytest.raises(ToolInputError, match="line breaks"):
        gateway.call("styles", {"simple": ["a"], "label": ["b"], "matrix": {}, "X-Trace": "a\r\nX-Evil: 1"})
    assert echo.arrivals == []


def test_path_values_cannot_climb_out_of_their_segment(wire):
    gateway, echo, _ = wire
    gateway.call("putBlob", {"name": "../../admin", "body": {"base64": ""}})
    gateway.call("putBlob", {"name": "..", "body": {"base64": ""}})
    assert [a.path for a in echo.arrivals] == ["/blobs/..%2F..%2Fadmin", "/blobs/%2E%2E"]


def test_tools_registered_before_request_plans_still_call(gateway, echo):
    target = {"type": "openapi", "base_url": echo.url, "method": "post", "path": "/refunds/{id}",
              "params": {"id": "path", "dry": "query", "X-Req": "header"}, "body": "merged", "auth": None}  # fmt: skip
    gateway.register({"name": "oldRefund", "inputSchema": {"type": "object"}, "target": target})
    gateway.call("oldRefund", {"id": "o 1", "dry": True, "X-Req": "r", "amount": 5})
    got = echo.last()
    assert (got.path, got.query, got.header("X-Req"), got.json()) == (
        "/refunds/o%201",
        "dry=true",
        "r",
        {"amount": 5},
    )
