"""A small MCP server (03-gateway.ipynb and tests/gateway use it) built with the official SDK (stdio by default, --http PORT for streamable HTTP)."""

import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("test-tools")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def weather(city: str) -> dict:
    """Current weather for a city (test data)."""
    return {"city": city, "temperature_c": 21}


@server.tool()
def fail_always(reason: str) -> str:
    """Always fails (test only)."""
    raise ToolError(f"refused: {reason}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")
