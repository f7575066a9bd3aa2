"""An MCP tool that returns an image, called by an agent: OpenAI-compatible models get it as an
``image_url`` data URL in a user turn after the tool turns, Anthropic models as an image block in
the ``tool_result``, and a model that takes no images (the offline reasoner) a short stand-in."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from agentcore_nb import Agent
from agentcore_nb.models import Retry
from agentcore_nb.models.anthropic import AnthropicProvider
from agentcore_nb.models.openai import OpenAIProvider
from agentcore_nb.project import Project
from tests.gateway.servers import ROGUE
from tests.models.fakes import FakeAnthropic, FakeOpenAI, Reply


@pytest.fixture
def project(tmp_path):
    with Project(tmp_path / "state") as p:
        p.services["gateway"].register_mcp(f"{sys.executable} {ROGUE} serve", prefix="chart")
        yield p


def _has_tool_result(fmt: str, body: dict[str, Any]) -> bool:
    if fmt == "openai":
        return any(m["role"] == "tool" for m in body["messages"])
    return any(b.get("type") == "tool_result" for m in body["messages"] if m["role"] == "user"
               for b in m["content"] if isinstance(b, dict))  # fmt: skip


@pytest.mark.parametrize("fmt", ["openai", "anthropic"])
def test_multimodal_providers_receive_the_image(project, fmt):
    def brain(body: dict[str, Any]) -> Reply:
        if _has_tool_result(fmt, body):
            return Reply(text="The chart shows one pixel.")
        return Reply(tool_calls=[("chart_rich", {})])

    server = FakeOpenAI(brain) if fmt == "openai" else FakeAnthropic(brain)
    try:
        retry = Retry(attempts=1, initial=0.01)
        provider = (
            OpenAIProvider("gpt-test", base_url=server.base_url, api_key="sk-test", retry=retry)
            if fmt == "openai"
            else AnthropicProvider(
                "claude-test", base_url=server.base_url, api_key="sk-ant-test", retry=retry
            )
        )
        agent = Agent("analyst", "You read charts.", model=provider, tools=["chart_rich"])
        result = agent.run("What does the chart show?", project=project)
        assert result.ok, result.error
        assert result.answer == "The chart shows one pixel."
        second = server.requests[1]["messages"]
    finally:
        server.close()
    png = project.services["gateway"].call("chart_rich", {}).content[1]["data"]
    if fmt == "openai":
        roles = [m["role"] for m in second]
        assert roles[-2:] == ["tool", "user"]  # images follow the tool turns
        tool_text = second[-2]["content"]
        parts = second[-1]["content"]
        assert parts[0] == {"type": "text", "text": "Image returned by tool chart_rich:"}
        assert parts[1] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}
    else:
        (tool_result,) = [b for m in second if m["role"] == "user" for b in m["content"]
                          if isinstance(b, dict) and b.get("type") == "tool_result"]  # fmt: skip
        text_block, image_block = tool_result["content"]
        tool_text = text_block["text"]
        assert image_block == {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": png},
        }
    assert "all kinds" in tool_text and "[image image/png, " in tool_text and png not in tool_text
    assert "[audio audio/wav, " in tool_text  # no provider here takes audio: a stand-in
    assert json.loads(tool_text.splitlines()[-1]) == {"n": 7}  # the structured content


def test_the_offline_reasoner_gets_a_text_stand_in(project):
    agent = Agent("analyst", "You read charts.", tools=["chart_rich"])
    result = agent.run("Show me every kind of rich content", project=project)
    assert result.ok, result.error
    assert "[image image/png, " in result.answer and "base64" not in result.answer
    png = project.services["gateway"].call("chart_rich", {}).content[1]["data"]
    assert png not in result.answer
