"""Tools in graph runs (spans, events, failures that leave other branches alone), the identity hook,
built-in interpreter tools, and semantic search over a catalogue of 50 tools."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from agentcore_nb import Graph, Node
from agentcore_nb.errors import NotPermittedError
from agentcore_nb.events import ActionEvent

from .servers import HERE


def get_order_status(order_id: str) -> dict:
    """Where a customer's order or parcel is: shipping status and delivery date."""
    return {"order_id": order_id, "status": "delivered"}


@pytest.fixture
def traced(project):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return project.runtime(tracer_provider=provider), exporter


def test_tool_nodes_run_with_spans_and_action_events(project, gateway, orders_api, traced):
    runtime, exporter = traced
    gateway.register_function(get_order_status, name="getOrderStatus")
    gateway.register_openapi(HERE / "orders_api.yaml", base_url=orders_api.url, prefix="orders")
    g = Graph("support")
    g.add_node(
        Node("status", kind="tool", inputs={"order_id": "$input.order_id"}, config={"tool": "getOrderStatus"})
    )
    g.add_node(Node("remote", kind="tool", inputs={"order_id": "$input.order_id"},
                    config={"tool": "orders_getOrderStatus"}))  # fmt: skip
    g.add_node(
        Node(
            "broken",
            kind="tool",
            config={"tool": "orders_brokenEndpoint", "arguments": {"mode": "wrong-shape"}},
        )
    )
    g.node(
        "answer",
        lambda status, remote: f"{status['status']} via {remote['carrier']}",
        inputs=["status", "remote"],
    )
    result = runtime.run(g, {"order_id": "1234"})
    assert result.outputs["answer"] == "delivered via UPS"
    assert result.errors["broken"].endswith("output.order_id: 5 is not of type 'string'")
    spans = {s.name: s for s in exporter.get_finished_spans()}
    tool_span = spans["execute_tool getOrderStatus"]
    assert tool_span.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool_span.parent.span_id == spans["execute_tool status"].context.span_id
    assert spans["execute_tool orders_brokenEndpoint"].status.status_code == StatusCode.ERROR
    actions = [e for e in runtime.log.events(result.run_id) if isinstance(e, ActionEvent)]
    assert sorted((e.action, e.status) for e in actions) == [
        ("tool:getOrderStatus", "succeeded"), ("tool:orders_brokenEndpoint", "failed"),
        ("tool:orders_getOrderStatus", "succeeded")]  # fmt: skip
    assert {e.node_id for e in actions} == {"status", "remote", "broken"}


class OnlyOrderTools:
    """An identity policy that permits tool:getOrderStatus and nothing else."""

    def __init__(self):
        self.asked = []

    def authorize(self, token, scope, *, session_id=None):
        self.asked.append((token, scope))
        if scope != "tool:getOrderStatus":
            raise NotPermittedError(f"not permitted: {scope}")


def test_every_call_asks_identity_for_the_tool_scope(project, gateway):
    policy = OnlyOrderTools()
    project.services.set("identity", policy)
    gateway.register_function(get_order_status, name="getOrderStatus")
    gateway.register_function(lambda: 1, name="refundEverything", description="Refund all orders")
    assert gateway.call("getOrderStatus", {"order_id": "1"}, token="tok-1")["status"] == "delivered"
    with pytest.raises(NotPermittedError, match="not permitted: tool:refundEverything"):
        gateway.call("refundEverything", {}, token="tok-1")
    assert policy.asked == [("tok-1", "tool:getOrderStatus"), ("tok-1", "tool:refundEverything")]
    project.event_log.flush()
    denied = [e for e in project.event_log.events() if isinstance(e, ActionEvent) and e.status == "denied"]
    assert denied and "tok-1" not in denied[0].to_json()


def test_interpreter_tools_are_built_in(gateway):
    names = {t.name for t in gateway.list()}
    assert {"executeCode", "executeCommand", "writeFiles", "readFiles", "listFiles", "removeFiles"} <= names
    out = gateway.call("executeCode", {"code": "print(sum(range(10)))"}, session_id="gw-test")
    assert "45" in str(out)


CATALOGUE = {
    "getOrderStatus": "Look up where a customer's order or parcel is: shipping status, carrier and delivery date.",
    "createRefund": "Refund a customer's payment for an order, fully or partly.",
    "cancelOrder": "Cancel an order that has not shipped yet.",
    "updateShippingAddress": "Change the delivery address of an order before it ships.",
    "listInvoices": "List the invoices of a customer account.",
    "sendEmail": "Send an email message to a customer.",
    "sendSms": "Send a text message to a phone number.",
    "createTicket": "Open a support ticket for a customer problem.",
    "closeTicket": "Close a resolved support ticket.",
    "escalateTicket": "Escalate a support ticket to a human supervisor.",
    "getCustomerProfile": "Fetch a customer's profile: name, contact details and tier.",
    "updateCustomerProfile": "Edit a customer's contact details.",
    "resetPassword": "Send a password reset link to the account owner.",
    "lockAccount": "Lock a user account after suspicious activity.",
    "getWeather": "Current weather conditions for a city.",
    "getForecast": "Weather forecast for the next days.",
    "convertCurrency": "Convert an amount between currencies at today's rate.",
    "getExchangeRate": "Exchange rate between two currencies.",
    "searchProducts": "Search the product catalogue by keyword.",
    "getProductDetails": "Details of one product: price, sizes, stock.",
    "checkInventory": "Units in stock per warehouse for a product.",
    "reserveInventory": "Reserve stock for a pending purchase.",
    "applyDiscount": "Apply a discount code to a cart.",
    "calculateTax": "Sales tax for a cart and a destination.",
    "createCart": "Start a new shopping cart.",
    "addToCart": "Add a product to a shopping cart.",
    "checkout": "Pay for a shopping cart.",
    "scheduleMeeting": "Book a meeting in a calendar.",
    "listMeetings": "Meetings on a calendar for a day.",
    "translateText": "Translate text between languages.",
    "summarizeDocument": "Summarise a long document.",
    "extractInvoiceFields": "Read totals and dates from an invoice PDF.",
    "runSqlQuery": "Run a read-only SQL query on the analytics warehouse.",
    "getCpuMetrics": "CPU utilisation time series of a server.",
    "restartService": "Restart a service on a host.",
    "getLogs": "Recent log lines of a service.",
    "createIncident": "Declare an operations incident and page the on-call engineer.",
    "acknowledgeAlert": "Acknowledge a monitoring alert.",
    "getStockQuote": "Latest price of a stock ticker.",
    "bookFlight": "Book a flight between two airports.",
    "bookHotel": "Book a hotel room for dates in a city.",
    "getTrafficInfo": "Road traffic on a route.",
    "findRestaurant": "Find restaurants near a location.",
    "getNewsHeadlines": "Today's news headlines on a topic.",
    "createInvoice": "Issue an invoice to a customer.",
    "recordPayment": "Record a payment received against an invoice.",
    "getLoyaltyPoints": "Loyalty points balance of a customer.",
    "redeemLoyaltyPoints": "Spend loyalty points on a reward.",
    "getReturnPolicy": "The store's return and exchange policy.",
    "startReturn": "Start a product return and print a return label.",
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("where is my parcel", "getOrderStatus"),
        ("please refund my payment for order 1234", "createRefund"),
        ("weather forecast for Oslo this week", "getForecast"),
        ("the server CPU is high, show utilisation", "getCpuMetrics"),
    ],
)
def test_semantic_tool_search_ranks_the_right_tool_first(gateway, query, expected):
    # The default embedder is lexical (docs/memory.md): paraphrases with no shared words need minilm.
    assert len(CATALOGUE) == 50
    for name, description in CATALOGUE.items():
        gateway.register({"name": name, "description": description, "inputSchema": {"type": "object"}})
    hits = gateway.search(query, k=3)
    assert hits[0][0].name == expected, [(t.name, round(s, 3)) for t, s in hits]
