"""Agents against real local servers speaking the OpenAI and Anthropic wire formats, on a real project
(DuckDB event log, memory store, gateway) with spans captured by the OpenTelemetry SDK."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentcore_nb.models import Retry
from agentcore_nb.models.anthropic import AnthropicProvider
from agentcore_nb.models.openai import OpenAIProvider
from agentcore_nb.project import Project
from tests.models.fakes import FakeAnthropic, FakeOpenAI, Reply

REFUNDS = [
    "Refund issued for order 1100 after a late delivery",
    "Refund denied for order 1200: outside the return window",
    "Refund issued for order 1234: item arrived damaged",
]


@dataclass
class Turn:
    """What one request to the fake model says, whichever wire format carried it."""

    system: str
    tools: list[str]
    user: str
    results: list[tuple[str, bool]] = field(
        default_factory=list
    )  # (content, is_error) since the last user turn
    steps: int = 0  # assistant turns since the last user turn


def turn_of(fmt: str, body: dict[str, Any]) -> Turn:
    if fmt == "openai":
        msgs = body["messages"]
        system = "\n".join(m["content"] for m in msgs if m["role"] == "system")
        last_user = max(i for i, m in enumerate(msgs) if m["role"] == "user")
        after = msgs[last_user + 1 :]
        results = [(m["content"], m["content"].startswith("error:")) for m in after if m["role"] == "tool"]
        tools = [t["function"]["name"] for t in body.get("tools", [])]
        return Turn(
            system, tools, msgs[last_user]["content"], results, sum(m["role"] == "assistant" for m in after)
        )
    msgs = body["messages"]
    system = body.get("system", "")
    user_idx = [
        i
        for i, m in enumerate(msgs)
        if m["role"] == "user" and any(b["type"] == "text" for b in m["content"])
    ]
    last_user = user_idx[-1]
    after = msgs[last_user + 1 :]
    results = [
        (b["content"], bool(b.get("is_error")))
        for m in after
        if m["role"] == "user"
        for b in m["content"]
        if b["type"] == "tool_result"
    ]
    text = next(b["text"] for b in msgs[last_user]["content"] if b["type"] == "text")
    tools = [t["name"] for t in body.get("tools", [])]
    return Turn(system, tools, text, results, sum(m["role"] == "assistant" for m in after))


Script = Callable[[Turn], Reply]


@dataclass
class Model:
    """A fake model server plus a provider pointed at it."""

    fmt: str
    server: Any
    provider: Any

    @property
    def turns(self) -> list[Turn]:
        return [turn_of(self.fmt, b) for b in self.server.requests]


@pytest.fixture(params=["openai", "anthropic"])
def fmt(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_model(fmt: str) -> Iterator[Callable[[Script], Model]]:
    servers: list[Any] = []

    def make(script: Script) -> Model:
        def brain(body: dict[str, Any]) -> Reply:
            return script(turn_of(fmt, body))

        if fmt == "openai":
            server = FakeOpenAI(brain)
            provider = OpenAIProvider(
                "gpt-test", base_url=server.base_url, api_key="sk-test", retry=Retry(attempts=2, initial=0.01)
            )
        else:
            server = FakeAnthropic(brain)
            provider = AnthropicProvider(
                "claude-test",
                base_url=server.base_url,
                api_key="sk-ant-test",
                retry=Retry(attempts=2, initial=0.01),
            )
        servers.append(server)
        return Model(fmt, server, provider)

    yield make
    for s in servers:
        s.close()


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


class Calls:
    """Counts tool invocations (to prove replay calls nothing)."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def hit(self) -> None:
        with self.lock:
            self.count += 1


class Overlap:
    """Proves the tool and the billing sub-agent of one step run at the same time, with no clock:
    once armed, each waits (up to a deadline) until the other has begun. Run one after the other,
    the first would wait for a second that never comes and fail."""

    def __init__(self) -> None:
        self.armed = False
        self.tool = threading.Event()
        self.billing = threading.Event()

    def reset(self, armed: bool = False) -> None:
        self.armed = armed
        self.tool.clear()
        self.billing.clear()

    def meet(self, mine: threading.Event, theirs: threading.Event, other: str) -> None:
        mine.set()
        if self.armed and not theirs.wait(60):
            raise TimeoutError(f"{other} never ran at the same time")


ORDER_CALLS = Calls()
OVERLAP = Overlap()
ORDER_STATUS = {"status": "delivered", "timestamp": "2025-10-12T09:33Z"}


def getOrderStatus(order_id: str) -> dict:
    """Look up the delivery status of a customer order by its order id."""
    ORDER_CALLS.hit()
    OVERLAP.meet(OVERLAP.tool, OVERLAP.billing, "the billing sub-agent")
    return dict(ORDER_STATUS, order_id=order_id)


def flakyLookup(order_id: str) -> dict:
    """Look up an order in the legacy system (which is down)."""
    raise ConnectionError("legacy system unreachable")


@pytest.fixture
def project(tmp_path: Path, spans: tuple[TracerProvider, InMemorySpanExporter]) -> Iterator[Project]:
    with Project(tmp_path / "state") as p:
        p.runtime(tracer_provider=spans[0])
        memory = p.services["memory"]
        for text in REFUNDS:
            memory.add(text, namespace="support/refunds")
        gateway = p.services["gateway"]
        gateway.register_function(getOrderStatus)
        gateway.register_function(flakyLookup)
        ORDER_CALLS.count = 0
        OVERLAP.reset()
        yield p
        OVERLAP.reset()


def results_text(turn: Turn) -> str:
    return " | ".join(c for c, _ in turn.results)
