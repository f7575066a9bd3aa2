"""MCP both ways, with the official SDK: a real MCP server subprocess as a target (stdio and
streamable HTTP), and `agentcore gateway serve-mcp` serving our registry to a real MCP client."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time

import pytest
from mcp import Client, StdioServerParameters

from agentcore_nb.gateway import ToolInputError, ToolTargetError, prefixed

from .servers import MCP_SERVER


def test_prefixed_names_stay_within_64_characters():
    assert prefixed("srv", "add") == "srv_add"
    long = prefixed("a-very-long-target-prefix", "x" * 60)
    assert len(long) == 64 and long != prefixed("a-very-long-target-prefix", "x" * 59 + "y")


def test_stdio_mcp_server_tools_are_listed_and_callable(gateway):
    regs = gateway.register_mcp(f"{sys.executable} {MCP_SERVER}", prefix="testsrv")
    assert {r.spec.name for r in regs} == {"testsrv_add", "testsrv_weather", "testsrv_fail_always"}
    assert gateway.get("testsrv_add").input_schema["required"] == ["a", "b"]
    assert gateway.call("testsrv_add", {"a": 2, "b": 40}) == 42
    assert gateway.call("testsrv_weather", {"city": "Oslo"}) == {"city": "Oslo", "temperature_c": 21}
    with pytest.raises(ToolInputError, match="input.a: 'two' is not of type 'integer'"):
        gateway.call("testsrv_add", {"a": "two", "b": 1})
    with pytest.raises(ToolTargetError, match="refused: because"):
        gateway.call("testsrv_fail_always", {"reason": "because"})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, "server exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(port)


def test_streamable_http_mcp_server_as_a_target(gateway):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(MCP_SERVER), "--http", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait_port(port, proc)
        gateway.register_mcp(f"http://127.0.0.1:{port}/mcp", prefix="web")
        assert gateway.call("web_add", {"a": 1, "b": 2}) == 3
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_mcp_exposes_the_registry_over_stdio(subprocess_env, agentcore_home):
    register_shout(agentcore_home)

    async def talk():
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "agentcore_nb.cli", "gateway", "serve-mcp"],
            env=subprocess_env | {"PYTHONPATH": str(agentcore_home.parent.parent.parent)}, cwd=None,
        )  # fmt: skip
        async with Client(params) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            ok = await client.call_tool("shout", {"text": "hi"})
            bad = await client.call_tool("shout", {"text": 5})
            return tools, ok, bad

    import os

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    subprocess_env["PYTHONPATH"] = repo
    tools, ok, bad = asyncio.run(talk())
    assert "shout" in tools and "executeCode" in tools
    assert tools["shout"].input_schema["required"] == ["text"]
    assert ok.structured_content == {"result": "HI"} and not ok.is_error
    assert bad.is_error and "input.text: 5 is not of type 'string'" in bad.content[0].text


def shout(text: str) -> str:
    return text.upper()


def register_shout(home) -> None:
    """A registry with one Python tool, written by this process before the server starts."""
    from agentcore_nb.project import Project

    with Project(home) as p:
        p.services["gateway"].register(
            {"name": "shout", "description": "Upper-case a text.",
             "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}},
            target={"type": "python", "ref": "tests.gateway.test_mcp:shout"},
        )  # fmt: skip


def test_serve_mcp_over_streamable_http(subprocess_env, agentcore_home):
    import os

    register_shout(agentcore_home)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentcore_nb.cli", "gateway", "serve-mcp", "--http", "--port", str(port)],
        env=subprocess_env | {"PYTHONPATH": repo}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_port(port, proc)

        async def talk():
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                names = {t.name for t in (await client.list_tools()).tools}
                return names, await client.call_tool("shout", {"text": "over http"})

        names, ok = asyncio.run(talk())
        assert "shout" in names and ok.structured_content == {"result": "OVER HTTP"}
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_mcp_passes_rich_results_through_unchanged(subprocess_env, agentcore_home):
    """A proxied MCP tool's image, audio, links and resources reach serve-mcp's own client as the
    upstream server sent them."""
    import os

    from agentcore_nb.project import Project

    from .rogue_mcp import PNG
    from .servers import ROGUE

    with Project(agentcore_home) as p:
        p.services["gateway"].register_mcp(f"{sys.executable} {ROGUE} serve", prefix="up")
        direct = p.services["gateway"].call("up_rich", {})
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    async def talk():
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "agentcore_nb.cli", "gateway", "serve-mcp"],
            env=subprocess_env | {"PYTHONPATH": repo},
        )  # fmt: skip
        async with Client(params) as client:
            return await client.call_tool("up_rich", {})

    served = asyncio.run(talk())
    assert not served.is_error
    blocks = [c.model_dump(by_alias=True, exclude_none=True, mode="json") for c in served.content]
    assert blocks == direct.content and blocks[1]["data"] == PNG
    assert served.structured_content == {"n": 7}
