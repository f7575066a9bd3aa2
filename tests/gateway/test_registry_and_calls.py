"""Registry, Python/HTTP/OpenAPI targets, validation, versions, and every way a target misbehaves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentcore_nb.gateway import (
    ToolInputError,
    ToolOutputError,
    ToolSchemaError,
    ToolTargetError,
    ToolTimeoutError,
    UnknownToolError,
)
from agentcore_nb.project import Project

from .servers import API_KEY, HERE, OrdersHandler


def get_order_status(order_id: str, verbose: bool = False) -> dict:
    """Where a customer's order is.

    Args:
        order_id: The order number, e.g. "1234".
        verbose: Include the carrier.
    """
    return {"order_id": order_id, "status": "delivered"}


def test_function_schema_comes_from_hints_and_docstring(gateway):
    spec = gateway.register_function(get_order_status, name="getOrderStatus")
    assert spec.input_schema == {
        "type": "object",
        "properties": {
            "order_id": {"type": "string", "description": 'The order number, e.g. "1234".'},
            "verbose": {"type": "boolean", "description": "Include the carrier.", "default": False},
        },
        "required": ["order_id"],
        "additionalProperties": False,
    }
    assert spec.description == "Where a customer's order is."
    assert gateway.call("getOrderStatus", {"order_id": "1234"}) == {"order_id": "1234", "status": "delivered"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"order_id": 1234}, "input.order_id: 1234 is not of type 'string'"),
        ({}, "input: 'order_id' is a required property"),
        ({"order_id": "1", "extra": 1}, "Additional properties are not allowed"),
        ("order 1234", "arguments must be an object"),
    ],
)
def test_invalid_input_names_the_path_and_reason(gateway, arguments, message):
    gateway.register_function(get_order_status, name="getOrderStatus")
    with pytest.raises(ToolInputError, match=message):
        gateway.call("getOrderStatus", arguments)


def test_unknown_tools_and_versions(gateway):
    with pytest.raises(UnknownToolError, match="unknown tool 'nope'"):
        gateway.call("nope", {})
    gateway.register_function(get_order_status, name="getOrderStatus")
    with pytest.raises(UnknownToolError, match="unknown tool 'getOrderStatus@7'"):
        gateway.call("getOrderStatus@7", {"order_id": "1"})


def test_changed_schema_makes_a_new_version_and_keeps_the_old(gateway):
    v1 = {"name": "crmTool", "description": "CRM lookup", "inputSchema": {
        "type": "object", "properties": {"customer": {"type": "string"}}, "required": ["customer"]}}  # fmt: skip
    echo = {"type": "python", "ref": "tests.gateway.test_registry_and_calls:echo"}
    assert gateway.register(v1, target=echo).action == "created"
    assert gateway.register(dict(v1, description="CRM lookup (v1)"), target=echo).action == "updated"
    v2 = json.loads(json.dumps(v1))
    v2["inputSchema"]["properties"]["region"] = {"type": "string"}
    v2["inputSchema"]["required"].append("region")
    reg = gateway.register(v2, target=echo)
    assert (reg.action, reg.spec.version, reg.breaking) == ("new-version", 2, True)
    assert reg.changes == ["added required input 'region'"]
    assert gateway.call("crmTool@1", {"customer": "c1"}) == {"customer": "c1"}
    with pytest.raises(ToolInputError, match="'region' is a required property"):
        gateway.call("crmTool", {"customer": "c1"})
    v3 = json.loads(json.dumps(v2))
    v3["inputSchema"]["properties"]["note"] = {"type": "string"}
    reg3 = gateway.register(v3, target=echo)
    assert reg3.breaking is False and reg3.changes == ["added optional input 'note'"]
    assert gateway.registry.versions("crmTool") == [1, 2, 3]


def echo(**kwargs):
    return kwargs


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"name": "bad name!", "inputSchema": {"type": "object"}}, "invalid tool name"),
        ({"name": "x" * 65, "inputSchema": {"type": "object"}}, "invalid tool name"),
        ({"name": "t", "inputSchema": {"type": "objekt"}}, "not a valid JSON Schema at type"),
        ({"name": "t", "inputSchema": {"type": "string"}}, "must describe an object"),
        (
            {"name": "t", "inputSchema": {"type": "object", "properties": {"a": {"minimum": "zero"}}}},
            "not a valid JSON Schema",
        ),
        ({"name": "t", "inputSchema": [1]}, "must be a JSON object"),
        ({"name": "t", "outputSchema": {"type": 5}}, "outputSchema is not a valid JSON Schema"),
    ],
)
def test_invalid_definitions_are_refused_and_nothing_is_stored(gateway, definition, message):
    with pytest.raises(ToolSchemaError, match=message):
        gateway.register(definition)
    assert [t for t in gateway.list() if t.target.get("type") != "builtin"] == []


def test_registry_survives_a_new_process_view(agentcore_home, gateway):
    gateway.register({"name": "unbound", "description": "no target yet", "inputSchema": {"type": "object"}})
    gateway.project.close()
    with Project(agentcore_home) as again:
        gw = again.services["gateway"]
        assert gw.get("unbound").description == "no target yet"
        with pytest.raises(ToolTargetError, match="has no target yet.*--url URL"):
            gw.call("unbound", {})


def test_openapi_operations_become_tools_with_auth_from_the_environment(gateway, orders_api):
    regs = gateway.register_openapi(HERE / "orders_api.yaml", base_url=orders_api.url)
    assert {r.spec.name for r in regs} == {"getOrderStatus", "createRefund", "brokenEndpoint"}
    spec = gateway.get("getOrderStatus")
    assert spec.input_schema["required"] == ["order_id"]
    assert set(spec.input_schema["properties"]) == {"order_id", "verbose"}
    assert gateway.call("getOrderStatus", {"order_id": "1234", "verbose": True}) == {
        "order_id": "1234", "status": "delivered", "carrier": "UPS"}  # fmt: skip
    assert OrdersHandler.seen[-1]["path"] == "/orders/1234?verbose=true"
    assert gateway.call("createRefund", {"order_id": "1234", "amount": 20}) == {
        "refund_id": "r-1", "order_id": "1234", "amount": 20}  # fmt: skip
    assert OrdersHandler.seen[-1]["body"] == {"order_id": "1234", "amount": 20}
    with pytest.raises(ToolInputError, match="input.amount: 0 is less than or equal to the minimum of 0"):
        gateway.call("createRefund", {"order_id": "1234", "amount": 0})


def test_the_secret_never_reaches_events_or_the_registry(gateway, orders_api, agentcore_home):
    gateway.register_openapi(HERE / "orders_api.yaml", base_url=orders_api.url)
    gateway.call("getOrderStatus", {"order_id": "1"})
    assert OrdersHandler.seen[-1]["headers"]["X-API-Key"] == API_KEY
    gateway.project.event_log.flush()
    events = [e.to_json() for e in gateway.project.event_log.events()]
    registry = json.dumps(gateway.project.database.execute("SELECT * FROM gateway_tools"))
    assert API_KEY not in "".join(events) + registry
    assert API_KEY not in (agentcore_home / "agentcore.duckdb").read_bytes().decode("latin-1")


def test_missing_secret_is_a_clear_error(gateway, orders_api, monkeypatch):
    gateway.register_openapi(HERE / "orders_api.yaml", base_url=orders_api.url)
    monkeypatch.delenv("ORDERSKEY")
    with pytest.raises(ToolTargetError, match="secret 'ORDERSKEY' is not set"):
        gateway.call("getOrderStatus", {"order_id": "1"})


def test_secrets_file_is_read(gateway, orders_api, monkeypatch, agentcore_home):
    gateway.register_openapi(HERE / "orders_api.yaml", base_url=orders_api.url)
    monkeypatch.delenv("ORDERSKEY")
    (agentcore_home / "secrets.json").write_text(json.dumps({"ORDERSKEY": API_KEY}))
    assert gateway.call("getOrderStatus", {"order_id": "9"})["status"] == "delivered"


@pytest.mark.parametrize(
    ("mode", "error", "message"),
    [
        ("invalid-json", ToolTargetError, "returned invalid JSON"),
        ("wrong-shape", ToolOutputError, "output.order_id: 5 is not of type 'string'"),
        ("down", ToolTargetError, "answered HTTP 500"),
    ],
)
def test_misbehaving_targets_fail_with_one_line(gateway, orders_api, mode, error, message):
    gateway.register_openapi(HERE / "orders_api.yaml", base_url=orders_api.url)
    with pytest.raises(error, match=message):
        gateway.call("brokenEndpoint", {"mode": mode})


def test_5xx_is_retried_then_succeeds(gateway, orders_api):
    gateway.register_openapi(HERE / "orders_api.yaml", base_url=orders_api.url)
    OrdersHandler.flaky_left = 2
    assert gateway.call("brokenEndpoint", {"mode": "flaky"})["status"] == "shipped"
    assert sum(1 for s in OrdersHandler.seen if "flaky" in s["path"]) == 3


def test_a_hanging_target_times_out_within_the_tool_timeout(gateway, orders_api):
    for reg in gateway.register_openapi(HERE / "orders_api.yaml", base_url=orders_api.url):
        if reg.spec.name == "brokenEndpoint":
            spec = reg.spec
    spec.timeout = 0.5
    gateway.register(spec)
    with pytest.raises(ToolTimeoutError, match="timed out after 0.5s"):
        gateway.call("brokenEndpoint", {"mode": "hang"})
    # The call gave up on its own deadline: the target is still hanging (it is held until the
    # test releases it), so the gateway did not wait for an answer.
    assert OrdersHandler.hangs_answered == 0
    assert any("hang" in s["path"] for s in OrdersHandler.seen)


def test_unreachable_endpoint(gateway):
    gateway.register_http({"name": "gone", "inputSchema": {"type": "object"}}, "http://127.0.0.1:9/x")
    with pytest.raises(ToolTargetError, match="unreachable"):
        gateway.call("gone", {})


def test_plain_http_endpoint_with_a_schema_file(gateway, orders_api, tmp_path: Path):
    reg = gateway.register_http(
        {"name": "echoTool", "inputSchema": {"type": "object"}}, orders_api.url + "/echo"
    )
    assert reg.action == "created"
    assert gateway.call("echoTool", {"a": 1}) == {"echo": {"a": 1}}


def test_python_tool_that_raises_or_hangs(gateway):
    def explode(x: int) -> int:
        """Divides by zero."""
        return x // 0

    async def hang() -> None:
        """Never returns."""
        import asyncio

        await asyncio.sleep(60)

    gateway.register_function(explode)
    gateway.register_function(hang, timeout=0.3)
    with pytest.raises(ToolTargetError, match="explode raised ZeroDivisionError"):
        gateway.call("explode", {"x": 1})
    with pytest.raises(ToolTimeoutError, match="hang timed out after 0.3s"):
        gateway.call("hang", {})
